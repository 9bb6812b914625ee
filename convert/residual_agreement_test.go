package convert

import (
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// residualModel is a float model with the blocks of real networks that
// fuse an activation into a merge: a ResNet residual (Add then ReLU), a
// convolution without BN followed by ReLU, an Add of three inputs followed
// by ReLU6, a channel Concatenate followed by ReLU and a Concatenate along
// the height.
//
//	in 28x28x1 -> Conv 8 3x3/2 BN ReLU (a) -> Conv 8 3x3 BN (b)
//	r1 = ReLU(Add(a, b)); c = ReLU(Conv 8 1x1 (bias) (r1))
//	r2 = ReLU6(Add(r1, c, a)); k = ReLU(Concatenate(r2, r1)) -> 14x14x16
//	h = BN(Concatenate(axis 1)(MaxPool 2 (k), AvgPool 2 (k))) -> 14x7x16
//	GAP -> Dense 10
//
// The last BN follows no convolution: it converts as a per-channel affine
// op (a 1x1 depthwise convolution).
func residualModel(t *testing.T) *nn.Model {
	t.Helper()
	conv := func(x *nn.Node, filters, k, stride int, bn bool) *nn.Node {
		c := nn.NewConv2D(filters, k, k)
		c.Strides = [2]int{stride, stride}
		c.Padding = "same"
		c.UseBias = !bn
		x = nn.Call(c, x)
		if bn {
			x = nn.Call(nn.NewBatchNormalization(), x)
		}
		return x
	}
	x0 := nn.Input(28, 28, 1)
	a := nn.Call(nn.NewReLU(), conv(x0, 8, 3, 2, true))
	b := conv(a, 8, 3, 1, true)
	r1 := nn.Call(nn.NewReLU(), nn.Call(nn.NewAdd(), a, b))
	c := nn.Call(nn.NewReLU(), conv(r1, 8, 1, 1, false))
	r2 := nn.Call(nn.NewReLU6(), nn.Call(nn.NewAdd(), r1, c, a))
	k := nn.Call(nn.NewReLU(), nn.Call(nn.NewConcatenate(), r2, r1))
	hc := nn.NewConcatenate()
	hc.Axis = 1
	h := nn.Call(hc, nn.Call(nn.NewMaxPooling2D(2, 2), k), nn.Call(nn.NewAveragePooling2D(2, 2), k))
	h = nn.Call(nn.NewBatchNormalization(), h)
	y := nn.Call(nn.NewDense(10), nn.Call(nn.NewGlobalAveragePooling2D(), h))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementResidual trains residualModel briefly (float, then QAT 8-bit
// and W4A8) and checks that it converts (Add + ReLU and Concatenate + ReLU
// fused, three-input Add, height Concatenate, a standalone BN) and that
// the integer model
// computes the QAT model's output codes exactly, layer by layer.
func TestAgreementResidual(t *testing.T) {
	w4a8 := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	checkExactAfterTraining(t, residualModel, []quantize.NBit{quantize.Default8Bit, w4a8}, func(t *testing.T, _ *nn.Model, im *lite.Model, _ []LayerReport) {
		ops := map[string]int{}
		for _, op := range im.Ops {
			ops[string(op.Type)+"/"+op.Activation]++
			if op.Type == lite.OpAdd && len(op.Inputs) == 3 && op.Activation != "relu6" {
				t.Errorf("three-input Add %s has activation %q, want relu6", op.Name, op.Activation)
			}
		}
		for _, want := range []string{"Add/relu", "Add/relu6", "Concatenation/relu", "Concatenation/", "Conv2D/relu", "DepthwiseConv2D/"} {
			if ops[want] == 0 {
				t.Errorf("no %s op in the integer model (ops %v)", want, ops)
			}
		}
	})
}
