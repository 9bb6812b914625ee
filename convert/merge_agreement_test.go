package convert

import (
	"context"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
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
	if testing.Short() {
		t.Skip("trains on MNIST")
	}
	train, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	train, test = train.Take(256), test.Take(200)
	fit := func(m *nn.Model, lr float64) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
	}
	fm := mergeModel(t)
	fit(fm, 2e-3)
	for _, sc := range []quantize.NBit{quantize.Default8Bit, {WeightBits: 4, ActivationBits: 8, PerAxis: true}} {
		t.Run(sc.String(), func(t *testing.T) {
			qat, err := quantize.Model(fm, quantize.WithScheme(sc), quantize.WithFreezeBNAfter(4))
			if err != nil {
				t.Fatal(err)
			}
			fit(qat, 2e-4)
			// 4 weighted layers, the Add and the Concatenate.
			if n := quantize.Link(qat); n != 6 {
				t.Errorf("Link linked %d layers, want 6", n)
			}
			im, err := Convert(qat)
			if err != nil {
				t.Fatal(err)
			}
			a := compareOutputs(t, qat, im, test.X, 100)
			checkAgreement(t, a)
			if a.same != a.vals {
				t.Errorf("output codes identical on %d of %d values, want all", a.same, a.vals)
			}
			rs, err := Compare(qat, im, test.X)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[lite.OpType]bool{}
			for _, r := range rs {
				ops[r.Op] = true
				if r.Same != 1 {
					t.Errorf("layer %s (%s): codes identical on %.4f%%, want 100%%", r.Layer, r.Op, 100*r.Same)
				}
			}
			for _, op := range []lite.OpType{lite.OpAdd, lite.OpConcatenation, lite.OpAveragePool, lite.OpGlobalAveragePool} {
				if !ops[op] {
					t.Errorf("no %s op compared", op)
				}
			}
			if t.Failed() {
				t.Log("\n" + FormatReports(rs))
			}
		})
	}
}
