package convert

import (
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// seModel is a float model with the blocks of MobileNetV3 and
// EfficientNet: hard_swish and silu activations, squeeze-and-excitation
// gates (hard_sigmoid broadcast through Reshape(1,1,C); sigmoid broadcast
// from (C) directly), a Multiply followed by a fused ReLU, and a
// GlobalMaxPooling2D head.
//
//	in 28x28x1 -> Conv 8 3x3/2 BN hard_swish (h) -> 14x14x8
//	s = Reshape(1,1,8)(hard_sigmoid(Dense 8 (ReLU(Dense 4 (GAP(h))))))
//	y = Multiply(h, s) -> Conv 16 3x3/2 (bias) silu (u) -> 7x7x16
//	g = sigmoid(Dense 16 (GAP(u))); v = ReLU(Multiply(u, g))
//	GlobalMaxPooling2D -> Dense 10
func seModel(t *testing.T) *nn.Model {
	t.Helper()
	act := func(f string, x *nn.Node) *nn.Node {
		a, err := nn.NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		return nn.Call(a, x)
	}
	conv := func(x *nn.Node, filters int, bn bool) *nn.Node {
		c := nn.NewConv2D(filters, 3, 3)
		c.Strides = [2]int{2, 2}
		c.Padding = "same"
		c.UseBias = !bn
		x = nn.Call(c, x)
		if bn {
			x = nn.Call(nn.NewBatchNormalization(), x)
		}
		return x
	}
	x0 := nn.Input(28, 28, 1)
	h := act("hard_swish", conv(x0, 8, true))
	s := nn.Call(nn.NewDense(4), nn.Call(nn.NewGlobalAveragePooling2D(), h))
	s = act("hard_sigmoid", nn.Call(nn.NewDense(8), nn.Call(nn.NewReLU(), s)))
	y := nn.Call(nn.NewMultiply(), h, nn.Call(nn.NewReshape(1, 1, 8), s))
	u := act("silu", conv(y, 16, false))
	g := act("sigmoid", nn.Call(nn.NewDense(16), nn.Call(nn.NewGlobalAveragePooling2D(), u)))
	v := nn.Call(nn.NewReLU(), nn.Call(nn.NewMultiply(), u, g))
	out := nn.Call(nn.NewDense(10), nn.Call(nn.NewGlobalMaxPooling2D(), v))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{out})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementSqueezeExcitation trains seModel briefly (float, then QAT
// 8-bit and W4A6) on 256 MNIST images and checks that it converts (table
// ops, Mul with both broadcasts and a fused ReLU, GlobalMaxPool) and that
// the integer model computes the QAT model's output codes exactly, layer
// by layer, on 200 test images.
func TestAgreementSqueezeExcitation(t *testing.T) {
	w4a6 := quantize.NBit{WeightBits: 4, ActivationBits: 6, PerAxis: true}
	checkExactAfterTraining(t, seModel, []quantize.NBit{quantize.Default8Bit, w4a6}, func(t *testing.T, qat *nn.Model, im *lite.Model, rs []LayerReport) {
		// 6 weighted layers, 4 table activations, 2 Multiply.
		if n := quantize.Link(qat); n != 12 {
			t.Errorf("Link linked %d layers, want 12", n)
		}
		ops := map[string]int{}
		for _, op := range im.Ops {
			ops[string(op.Type)+"/"+op.Activation]++
		}
		for _, want := range []string{"HardSwish/", "HardSigmoid/", "SiLU/", "Logistic/", "Mul/", "Mul/relu", "GlobalMaxPool/", "GlobalAveragePool/"} {
			if ops[want] != 1 && !(want == "GlobalAveragePool/" && ops[want] == 2) {
				t.Errorf("%d %s ops in the integer model (ops %v)", ops[want], want, ops)
			}
		}
		seen := opsSeen(rs)
		for _, op := range []lite.OpType{lite.OpHardSwish, lite.OpHardSigmoid, lite.OpSiLU, lite.OpLogistic, lite.OpMul, lite.OpGlobalMaxPool} {
			if !seen[op] {
				t.Errorf("no %s op compared", op)
			}
		}
	})
}
