package convert

import (
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// geometryModel is a float model with the convolution geometry of real
// CNNs: a dilated convolution, a grouped one, and depthwise convolutions
// with depth multiplier 2 (one with stride 2 and 'same' padding, one
// dilated), with and without BN.
//
//	in 28x28x1 -> Conv 8 3x3 dilation 2 'same' BN ReLU -> 28x28x8
//	Conv 8 3x3 groups 2 'same' (bias) ReLU
//	DepthwiseConv 3x3 x2 stride 2 'same' BN ReLU6 -> 14x14x16
//	DepthwiseConv 3x3 x2 dilation 2 'same' (bias) ReLU -> 14x14x32
//	Conv 16 1x1 groups 4 BN ReLU -> GAP -> Dense 10
func geometryModel(t *testing.T) *nn.Model {
	t.Helper()
	c1 := nn.NewConv2D(8, 3, 3)
	c1.Padding, c1.DilationRate, c1.UseBias = "same", [2]int{2, 2}, false
	c2 := nn.NewConv2D(8, 3, 3)
	c2.Padding, c2.Groups = "same", 2
	d1 := nn.NewDepthwiseConv2D(3, 3)
	d1.Padding, d1.Strides, d1.DepthMultiplier, d1.UseBias = "same", [2]int{2, 2}, 2, false
	d2 := nn.NewDepthwiseConv2D(3, 3)
	d2.Padding, d2.DepthMultiplier, d2.DilationRate = "same", 2, [2]int{2, 2}
	c3 := nn.NewConv2D(16, 1, 1)
	c3.Groups, c3.UseBias = 4, false
	m, err := nn.NewSequential([]int{28, 28, 1},
		c1, nn.NewBatchNormalization(), nn.NewReLU(),
		c2, nn.NewReLU(),
		d1, nn.NewBatchNormalization(), nn.NewReLU6(),
		d2, nn.NewReLU(),
		c3, nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewGlobalAveragePooling2D(), nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementGeometry trains geometryModel briefly on MNIST (float, then
// QAT 8-bit and W4A8), converts it (the dilation, groups and depth
// multipliers carried by the ops) and checks that the integer model
// computes the QAT model's output codes exactly, layer by layer.
func TestAgreementGeometry(t *testing.T) {
	w4a8 := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	checkExactAfterTraining(t, geometryModel, []quantize.NBit{quantize.Default8Bit, w4a8}, func(t *testing.T, qat *nn.Model, im *lite.Model, _ []LayerReport) {
		if n, want := quantize.Link(qat), 6; n != want {
			t.Errorf("%d layers linked for exact inference, want %d", n, want)
		}
		var dil, groups, mult []string
		for _, op := range im.Ops {
			if op.Dilation != [2]int{} {
				dil = append(dil, string(op.Type))
			}
			if op.Groups > 1 {
				groups = append(groups, string(op.Type))
			}
			if op.DepthMultiplier > 1 {
				mult = append(mult, string(op.Type))
			}
		}
		if len(dil) != 2 || len(groups) != 2 || len(mult) != 2 {
			t.Errorf("ops with dilation %v, groups %v, depth multiplier %v; want 2 of each", dil, groups, mult)
		}
	})
}
