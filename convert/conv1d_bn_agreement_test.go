package convert

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestExactConv1DBatchNorm checks that Conv1D -> BatchNormalization (->
// ReLU / ReLU6) folds into one FoldedConvBN as Conv2D's does (it used to
// leave the BN standalone, whose 1x1 depthwise form refused the (T, C)
// input) and converts, after QAT training on batch statistics (or
// calibration for the sequence output), to one
// Conv2D op per fold, no depthwise op, with the integer model's output
// codes equal to the QAT model's inference.
func TestExactConv1DBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 19))
	const steps, feats = 14, 5
	x := randomSequences(r, 64, tensor.Shape{steps, feats}, -1, 1)
	y := tensor.New(64)
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	for k, build := range []func() []nn.Layer{
		func() []nn.Layer {
			c := nn.NewConv1D(6, 3)
			c.Padding = "same"
			return []nn.Layer{c, nn.NewBatchNormalization(), nn.NewReLU()}
		},
		func() []nn.Layer {
			c := nn.NewConv1D(7, 3)
			c.Strides, c.UseBias = 2, false
			return []nn.Layer{c, nn.NewBatchNormalization(), nn.NewGlobalAveragePooling1D(), nn.NewDense(3)}
		},
		func() []nn.Layer {
			c := nn.NewConv1D(8, 2)
			c.Padding, c.DilationRate = "causal", 2
			relu6, err := nn.NewActivation("relu6")
			if err != nil {
				t.Fatal(err)
			}
			c2 := nn.NewConv1D(4, 3)
			return []nn.Layer{c, nn.NewBatchNormalization(), relu6, nn.NewMaxPooling1D(2), c2, nn.NewBatchNormalization(), nn.NewReLU(),
				nn.NewLSTM(4), nn.NewDense(3)}
		},
	} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			layers := build()
			m, err := nn.NewSequential(tensor.Shape{steps, feats}, layers...)
			if err != nil {
				t.Fatal(err)
			}
			m.InitWeights(uint64(10 + k))
			bns := 0
			for _, l := range layers {
				if bn, ok := l.(*nn.BatchNormalization); ok {
					bns++
					for i := range bn.MovingMean.Value.Data {
						bn.MovingMean.Value.Data[i] = 0.3 * float32(r.NormFloat64())
						bn.MovingVariance.Value.Data[i] = 0.5 + r.Float32()
						bn.Gamma.Value.Data[i] = 0.5 + r.Float32()
						bn.Beta.Value.Data[i] = 0.2 * float32(r.NormFloat64())
					}
				}
			}
			qat, err := quantize.Model(m)
			if err != nil {
				t.Fatal(err)
			}
			folded := 0
			for _, l := range qat.Layers() {
				if f, ok := l.(*quantize.FoldedConvBN); ok && f.Conv().Type() == "Conv1D" {
					folded++
				}
			}
			if folded != bns {
				t.Fatalf("%d Conv1D + BatchNormalization folded, want %d", folded, bns)
			}
			labels := y
			if k == 0 {
				labels = nil // a sequence output: calibrated, not trained
			}
			im := exactConversion(t, m, x, labels, bns)
			if n := countOps(im, lite.OpDepthwiseConv2D); n != 0 {
				t.Errorf("%d DepthwiseConv2D ops, want none", n)
			}
			if n := countOps(im, lite.OpConv2D); n != bns {
				t.Errorf("%d Conv2D ops, want %d", n, bns)
			}
		})
	}
}
