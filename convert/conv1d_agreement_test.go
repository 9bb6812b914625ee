package convert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// randomSequences returns n samples of the given shape, uniform in [lo, hi].
func randomSequences(r *rand.Rand, n int, shape tensor.Shape, lo, hi float32) *tensor.Tensor {
	x := tensor.New(append(tensor.Shape{n}, shape...)...)
	for i := range x.Data {
		x.Data[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

// exactConversion quantizes the float model m, calibrates it on x (or
// trains it briefly with QAT on (x, y) when y is not nil), converts it
// (float and full-integer edges) and requires the integer model's output
// codes to equal the QAT model's inference bit for bit, with at least
// linked layers linked for exact inference (quantize.Link). It returns the
// integer model with float edges.
func exactConversion(t *testing.T, m *nn.Model, x, y *tensor.Tensor, linked int) *lite.Model {
	t.Helper()
	qat, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if y != nil {
		fitModel(t, qat, x, y, 1e-3, 1)
	} else if err := quantize.Calibrate(context.Background(), qat, x, 32); err != nil {
		t.Fatal(err)
	}
	if n := quantize.Link(qat); n < linked {
		t.Fatalf("%d layers linked for exact inference, want at least %d", n, linked)
	}
	var first *lite.Model
	for _, full := range []bool{false, true} {
		var opts []Option
		if full {
			opts = append(opts, FullInteger())
		}
		im, err := Convert(qat, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = im
		}
		a := compareOutputs(t, qat, im, x, 17)
		if a.same != a.vals || a.vals == 0 {
			t.Errorf("full integer %v: %d of %d output codes differ (worst %d LSB)", full, a.vals-a.same, a.vals, a.worst)
		}
	}
	return first
}

// TestExactConv1D checks that a quantized Conv1D (with and without a
// fused ReLU and a bias) lowers to an integer model whose output codes
// equal the QAT model's inference, for each padding, stride and dilation.
func TestExactConv1D(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 19))
	x := randomSequences(r, 40, tensor.Shape{14, 5}, -1, 1)
	for _, padding := range []string{"valid", "same", "causal"} {
		for _, stride := range []int{1, 2, 3} {
			for _, dilation := range []int{1, 2} {
				for _, relu := range []bool{false, true} {
					name := fmt.Sprintf("%s/s%d/d%d/relu%v", padding, stride, dilation, relu)
					t.Run(name, func(t *testing.T) {
						c := nn.NewConv1D(7, 3)
						c.Padding, c.Strides, c.DilationRate, c.UseBias = padding, stride, dilation, !relu
						layers := []nn.Layer{c}
						if relu {
							layers = append(layers, nn.NewReLU())
						}
						m, err := nn.NewSequential(tensor.Shape{14, 5}, layers...)
						if err != nil {
							t.Fatal(err)
						}
						m.InitWeights(uint64(stride*10 + dilation))
						if !relu {
							for i := range c.Bias.Value.Data {
								c.Bias.Value.Data[i] = 0.1 * float32(i-3)
							}
						}
						im := exactConversion(t, m, x, nil, 1)
						if n := countOps(im, lite.OpConv2D); n != 1 {
							t.Errorf("%d Conv2D ops, want 1", n)
						}
					})
				}
			}
		}
	}
}

// countOps returns the number of ops of type typ in m.
func countOps(m *lite.Model, typ lite.OpType) int {
	n := 0
	for _, op := range m.Ops {
		if op.Type == typ {
			n++
		}
	}
	return n
}

// TestExactPooling1D checks MaxPooling1D ("valid" and "same", strides
// below, equal to and above the window) and GlobalAveragePooling1D
// between quantized layers: the integer model's output codes equal the
// QAT model's inference (the consumer of GlobalAveragePooling1D re-derives
// the integer engine's rounded mean).
func TestExactPooling1D(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 19))
	x := randomSequences(r, 40, tensor.Shape{14, 6}, -1, 1)
	for _, c := range []struct {
		padding       string
		pool, strides int
	}{{"valid", 2, 2}, {"valid", 3, 2}, {"same", 3, 2}, {"same", 2, 3}, {"same", 4, 1}, {"valid", 2, 3}} {
		t.Run(fmt.Sprintf("max/%s/p%d/s%d", c.padding, c.pool, c.strides), func(t *testing.T) {
			p := nn.NewMaxPooling1D(c.pool)
			p.Strides, p.Padding = c.strides, c.padding
			conv := nn.NewConv1D(8, 3)
			conv.Padding = "same"
			m, err := nn.NewSequential(tensor.Shape{14, 6}, conv, nn.NewReLU(), p, nn.NewConv1D(5, 1))
			if err != nil {
				t.Fatal(err)
			}
			m.InitWeights(3)
			im := exactConversion(t, m, x, nil, 2)
			if n := countOps(im, lite.OpMaxPool); n != 1 {
				t.Errorf("%d MaxPool2D ops, want 1", n)
			}
		})
	}
	t.Run("global_average", func(t *testing.T) {
		m, err := nn.NewSequential(tensor.Shape{14, 6}, nn.NewConv1D(9, 2), nn.NewGlobalAveragePooling1D(), nn.NewDense(4))
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(4)
		im := exactConversion(t, m, x, nil, 2)
		if n := countOps(im, lite.OpGlobalAveragePool); n != 1 {
			t.Errorf("%d GlobalAveragePool ops, want 1", n)
		}
	})
}

// TestExactConv1DRowMNIST trains the built-in conv1d-rowmnist briefly with
// QAT on random images and converts it: the integer model's output codes
// equal the QAT model's inference and every Conv1D became a Conv2D op.
func TestExactConv1DRowMNIST(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 19))
	n := 64
	if testing.Short() {
		n = 32
	}
	x := randomSequences(r, n, tensor.Shape{28, 28, 1}, 0, 1)
	y := tensor.New(n)
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(10))
	}
	m, err := models.Conv1DRowMNIST(tensor.Shape{28, 28, 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(5)
	im := exactConversion(t, m, x, y, 4)
	if n := countOps(im, lite.OpConv2D); n != 3 {
		t.Errorf("%d Conv2D ops, want 3", n)
	}
}

// TestExactConv1DWithRecurrent checks Conv1D next to the integer LSTM:
// Conv1D, ReLU, LSTM, Dense, and LSTM (all steps), Conv1D, MaxPooling1D,
// Flatten, Dense. The integer tensors between the ops keep their (T, C)
// shapes, so each consumer reads what it expects, and the output codes
// equal the QAT model's inference.
func TestExactConv1DWithRecurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 19))
	x := randomSequences(r, 40, tensor.Shape{14, 6}, -1, 1)
	seq := &nn.LSTM{RecurrentOptions: nn.RecurrentOptions{Units: 5, UseBias: true, ReturnSequences: true}}
	for i, layers := range [][]nn.Layer{
		{nn.NewConv1D(8, 3), nn.NewReLU(), nn.NewLSTM(4), nn.NewDense(3)},
		{seq, nn.NewConv1D(8, 3), nn.NewMaxPooling1D(2), nn.NewFlatten(), nn.NewDense(3)},
	} {
		m, err := nn.NewSequential(tensor.Shape{14, 6}, layers...)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(uint64(6 + i))
		exactConversion(t, m, x, nil, 3)
	}
}
