package convert

import (
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// mergeModel is a small mobilenet-tiny-like Functional model that has
// every requantizing op besides the weighted ones: a residual Add, an
// AveragePooling2D and a MaxPooling2D feeding a Concatenate, and a
// GlobalAveragePooling2D before the classifier.
//
//	in 28x28x1 -> Conv 8 3x3/2 BN ReLU6 (a) -> Conv 8 1x1 BN (b)
//	r = Add(a, b) -> DW 3x3 BN ReLU6 -> AvgPool 2  \
//	r -> MaxPool 2                                  > Concatenate -> 7x7x16
//	GAP -> Dense 10
func mergeModel(t *testing.T) *nn.Model {
	t.Helper()
	convBN := func(x *nn.Node, filters, k, stride int, relu6 bool) *nn.Node {
		c := nn.NewConv2D(filters, k, k)
		c.Strides = [2]int{stride, stride}
		c.Padding = "same"
		c.UseBias = false
		x = nn.Call(nn.NewBatchNormalization(), nn.Call(c, x))
		if relu6 {
			x = nn.Call(nn.NewReLU6(), x)
		}
		return x
	}
	x0 := nn.Input(28, 28, 1)
	a := convBN(x0, 8, 3, 2, true)
	b := convBN(a, 8, 1, 1, false)
	r := nn.Call(nn.NewAdd(), a, b)
	dw := nn.NewDepthwiseConv2D(3, 3)
	dw.Padding = "same"
	dw.UseBias = false
	d := nn.Call(nn.NewReLU6(), nn.Call(nn.NewBatchNormalization(), nn.Call(dw, r)))
	d = nn.Call(nn.NewAveragePooling2D(2, 2), d)
	mp := nn.Call(nn.NewMaxPooling2D(2, 2), r)
	cat := nn.Call(nn.NewConcatenate(), mp, d)
	y := nn.Call(nn.NewDense(10), nn.Call(nn.NewGlobalAveragePooling2D(), cat))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementMerge trains mergeModel briefly in float and with QAT
// (8-bit and W4A8) on 256 MNIST images and checks that the integer model
// agrees with the QAT model's inference mode bit for bit on 200 test
// images, layer by layer (Add, Concatenate and the pools included).
func TestAgreementMerge(t *testing.T) {
	w4a8 := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	checkExactAfterTraining(t, mergeModel, []quantize.NBit{quantize.Default8Bit, w4a8}, func(t *testing.T, qat *nn.Model, _ *lite.Model, rs []LayerReport) {
		// 4 weighted layers, the Add and the Concatenate.
		if n := quantize.Link(qat); n != 6 {
			t.Errorf("Link linked %d layers, want 6", n)
		}
		seen := opsSeen(rs)
		for _, op := range []lite.OpType{lite.OpAdd, lite.OpConcatenation, lite.OpAveragePool, lite.OpGlobalAveragePool} {
			if !seen[op] {
				t.Errorf("no %s op compared", op)
			}
		}
	})
}
