package convert

import (
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// sliceModel is a float model with ShuffleNet v2's channel split: the
// channels cut in two halves by Slice layers, one half through a
// pointwise-depthwise-pointwise branch, the halves joined again; then a
// crop of H and every other channel (Slices on another axis and with a
// step).
//
//	in 28x28x1 -> Conv 8 3x3 stride 2 'same' BN ReLU -> 14x14x8
//	  Slice channels [0, 4)                          -> 14x14x4
//	  Slice channels [4, 8) -> Conv 4 1x1 BN ReLU -> DepthwiseConv 3x3
//	    'same' BN -> Conv 4 1x1 BN ReLU              -> 14x14x4
//	Concatenate -> 14x14x8 -> Slice H [1, 13) -> Slice channels [0, 8)
//	step 2 -> 12x14x4 -> MaxPool 2 -> GAP -> Dense 10
func sliceModel(t *testing.T) *nn.Model {
	t.Helper()
	c0 := nn.NewConv2D(8, 3, 3)
	c0.Padding, c0.Strides, c0.UseBias = "same", [2]int{2, 2}, false
	x := nn.Input(28, 28, 1)
	h := nn.Call(nn.NewReLU(), nn.Call(nn.NewBatchNormalization(), nn.Call(c0, x)))
	keep := nn.Call(nn.NewSlice(-1, 0, 4), h)
	b := nn.Call(nn.NewSlice(-1, 4, 8), h)
	p1, dw, p2 := nn.NewConv2D(4, 1, 1), nn.NewDepthwiseConv2D(3, 3), nn.NewConv2D(4, 1, 1)
	p1.UseBias, dw.UseBias, p2.UseBias, dw.Padding = false, false, false, "same"
	b = nn.Call(nn.NewReLU(), nn.Call(nn.NewBatchNormalization(), nn.Call(p1, b)))
	b = nn.Call(nn.NewBatchNormalization(), nn.Call(dw, b))
	b = nn.Call(nn.NewReLU(), nn.Call(nn.NewBatchNormalization(), nn.Call(p2, b)))
	y := nn.Call(nn.NewConcatenate(), keep, b)
	y = nn.Call(nn.NewSlice(1, 1, 13), y)
	y = nn.Call(&nn.Slice{Axis: -1, Begin: 0, End: 8, Step: 2}, y)
	y = nn.Call(nn.NewDense(10), nn.Call(nn.NewGlobalAveragePooling2D(), nn.Call(nn.NewMaxPooling2D(2, 2), y)))
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementSlice trains sliceModel briefly on MNIST (float, then QAT
// 8-bit and W4A8), converts it and checks that the integer model, whose
// Slice ops copy codes, computes the QAT model's output codes exactly,
// layer by layer.
func TestAgreementSlice(t *testing.T) {
	w4a8 := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	checkExactAfterTraining(t, sliceModel, []quantize.NBit{quantize.Default8Bit, w4a8}, func(t *testing.T, qat *nn.Model, im *lite.Model, rs []LayerReport) {
		var slices []lite.Op
		for _, op := range im.Ops {
			if op.Type == lite.OpSlice {
				slices = append(slices, op)
			}
		}
		if len(slices) != 4 {
			t.Fatalf("%d Slice ops, want 4", len(slices))
		}
		for _, op := range slices {
			in, out := im.Tensors[op.Inputs[0]], im.Tensors[op.Output]
			if in.Scale != out.Scale || in.ZeroPoint != out.ZeroPoint {
				t.Errorf("Slice %q: output scale %v zero point %d, input %v %d: it must keep them", op.Name, out.Scale, out.ZeroPoint, in.Scale, in.ZeroPoint)
			}
		}
		if !opsSeen(rs)[lite.OpSlice] {
			t.Error("Compare reports no Slice layer")
		}
	})
}
