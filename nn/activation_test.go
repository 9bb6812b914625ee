package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// affineInputC wraps a one-input layer as inner(a*x + b), so that the
// gradient check's normal inputs can be spread over a kink (6 for ReLU6).
type affineInputC struct {
	Layer
	a, b float32
	tmp  *tensor.Tensor
	dx   *tensor.Tensor
}

func (w *affineInputC) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	tensor.Ensure(&w.tmp, x.Shape...)
	for i, v := range x.Data {
		w.tmp.Data[i] = w.a*v + w.b
	}
	return w.Layer.Forward(c, []*tensor.Tensor{w.tmp})
}

func (w *affineInputC) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	d := w.Layer.Backward(c, dOut)[0]
	tensor.Ensure(&w.dx, d.Shape...)
	for i, v := range d.Data {
		w.dx.Data[i] = w.a * v
	}
	return []*tensor.Tensor{w.dx}
}

// The piecewise-linear functions are checked with eps 1e-3: finite
// differences are exact for them except within eps of a kink, and no input
// of the fixed-seed check lies that close (the check would fail if one did).
// Their inputs are spread as 4x+1 so that both the 0 and 6 kinks are
// crossed by the data. The smooth functions use the standard eps 1e-2.
func TestActivationGradCheck(t *testing.T) {
	shape := tensor.Shape{3, 4, 5}
	t.Run("ReLU", func(t *testing.T) {
		gradCheck(t, &affineInputC{Layer: NewReLU(), a: 4, b: 1}, 4, true, 1e-3, 2e-2, shape)
	})
	t.Run("ReLU6", func(t *testing.T) {
		gradCheck(t, &affineInputC{Layer: NewReLU6(), a: 4, b: 1}, 4, true, 1e-3, 2e-2, shape)
	})
	for _, f := range []string{"relu", "relu6", "sigmoid", "tanh", "softmax", "linear", "hard_sigmoid", "hard_swish", "silu"} {
		t.Run(f, func(t *testing.T) {
			a, err := NewActivation(f)
			if err != nil {
				t.Fatal(err)
			}
			if f == "relu" || f == "relu6" || f == "hard_sigmoid" || f == "hard_swish" {
				gradCheck(t, &affineInputC{Layer: a, a: 4, b: 1}, 4, true, 1e-3, 2e-2, shape)
			} else {
				gradCheck(t, a, 4, true, 1e-2, 2e-2, shape)
			}
		})
	}
}

func TestActivationValues(t *testing.T) {
	x, _ := tensor.FromSlice([]float32{-2, -0.5, 0, 0.5, 3, 6, 7, 100}, 1, 8)
	x2, _ := tensor.FromSlice([]float32{-4, -3, -1.5, 0, 1, 2.5, 3, 4}, 1, 8)
	want := map[string]func(float64) float64{
		"relu":    func(v float64) float64 { return math.Max(v, 0) },
		"relu6":   func(v float64) float64 { return math.Min(math.Max(v, 0), 6) },
		"sigmoid": func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		"tanh":    math.Tanh,
		"linear":  func(v float64) float64 { return v },
		// Keras 3 / PyTorch definitions, written out.
		"hard_sigmoid": func(v float64) float64 { return math.Min(math.Max(v+3, 0), 6) / 6 },
		"hard_swish":   func(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 },
		"hard_silu":    func(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 },
		"silu":         func(v float64) float64 { return v / (1 + math.Exp(-v)) },
		"swish":        func(v float64) float64 { return v / (1 + math.Exp(-v)) },
	}
	layers := map[string]Layer{"ReLU": NewReLU(), "ReLU6": NewReLU6()}
	for f := range want {
		a, _ := NewActivation(f)
		layers[f] = a
	}
	for name, l := range layers {
		if _, err := l.Build([]tensor.Shape{{8}}); err != nil {
			t.Fatal(err)
		}
		f := name
		switch name {
		case "ReLU":
			f = "relu"
		case "ReLU6":
			f = "relu6"
		}
		for _, x := range []*tensor.Tensor{x2, x} {
			out := l.Forward(&Context{}, []*tensor.Tensor{x})
			for i, v := range x.Data {
				w := want[f](float64(v))
				if math.Abs(float64(out.Data[i])-w) > 1e-6*math.Max(1, math.Abs(w)) {
					t.Errorf("%s(%v) = %v, want %v", name, v, out.Data[i], w)
				}
			}
		}
		if f == "relu" || f == "relu6" {
			// Gradient 0 at the kinks, 1 strictly inside.
			g, _ := tensor.FromSlice([]float32{1, 1, 1, 1, 1, 1, 1, 1}, 1, 8)
			dx := l.Backward(&Context{}, g)[0]
			wantG := []float32{0, 0, 0, 1, 1, 1, 1, 1}
			if f == "relu6" {
				wantG = []float32{0, 0, 0, 1, 1, 0, 0, 0}
			}
			for i := range wantG {
				if dx.Data[i] != wantG[i] {
					t.Errorf("%s gradient at %v = %v, want %v", name, x.Data[i], dx.Data[i], wantG[i])
				}
			}
		}
	}
}

func TestSoftmaxStable(t *testing.T) {
	a, _ := NewActivation("softmax")
	if _, err := a.Build([]tensor.Shape{{2, 3}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(4, 4))
	x := tensor.New(5, 2, 3)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64() * 5)
	}
	copy(x.Data, []float32{1000, 1001, 1002, -1000, -1000, -1000})
	out := a.Forward(&Context{}, []*tensor.Tensor{x})
	for row := 0; row < 10; row++ {
		var s float64
		for _, v := range out.Data[row*3 : row*3+3] {
			if math.IsNaN(float64(v)) || v < 0 || v > 1 {
				t.Fatalf("row %d: %v", row, out.Data[row*3:row*3+3])
			}
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-6 {
			t.Fatalf("row %d sums to %v", row, s)
		}
	}
	e := []float64{1, math.E, math.E * math.E}
	for i := 0; i < 3; i++ {
		w := e[i] / (e[0] + e[1] + e[2])
		if math.Abs(float64(out.Data[i])-w) > 1e-6 {
			t.Fatalf("softmax(1000, 1001, 1002)[%d] = %v, want %v", i, out.Data[i], w)
		}
		if math.Abs(float64(out.Data[3+i])-1.0/3) > 1e-6 {
			t.Fatalf("softmax(-1000 x3)[%d] = %v, want 1/3", i, out.Data[3+i])
		}
	}
}

func TestActivationErrors(t *testing.T) {
	_, err := NewActivation("gelu")
	wantErrC(t, err, "gelu")
	a := &Activation{Func: "selu"}
	_, err = a.Build([]tensor.Shape{{3}})
	wantErrC(t, err, "selu")
	ctor, _ := lookup("Activation")
	_, err = ctor("act", json.RawMessage(`{"activation": "elu"}`))
	wantErrC(t, err, "elu")
	_, err = NewReLU().Build([]tensor.Shape{{3}, {3}})
	wantErrC(t, err, "1 input")
}

func TestActivationConfigRoundTrip(t *testing.T) {
	for _, f := range []string{"relu", "relu6", "sigmoid", "tanh", "softmax", "linear", "hard_sigmoid", "hard_swish", "hard_silu", "silu", "swish"} {
		a, err := NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		a.SetName("activation_1")
		roundTripC(t, a)
	}
	r := NewReLU()
	r.SetName("re_lu")
	roundTripC(t, r)
	r6 := NewReLU6()
	r6.SetName("re_lu6")
	roundTripC(t, r6)
}

// BenchmarkReLU times a Forward and Backward on (64, 26, 26, 32).
func BenchmarkReLU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	l := NewReLU()
	if _, err := l.Build([]tensor.Shape{{26, 26, 32}}); err != nil {
		b.Fatal(err)
	}
	x := randTensorC(r, 0, 1, 64, 26, 26, 32)
	c := &Context{Training: true}
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		l.Forward(c, []*tensor.Tensor{x})
		l.Backward(c, x)
	}
}

// TestHardActivationGradients checks the gradients of hard_sigmoid,
// hard_swish and silu at hand-picked points, the kinks included.
func TestHardActivationGradients(t *testing.T) {
	x, _ := tensor.FromSlice([]float32{-4, -3, -1.5, 0, 1, 2.5, 3, 4}, 1, 8)
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	want := map[string]func(float64) float64{
		"hard_sigmoid": func(v float64) float64 {
			if v > -3 && v < 3 {
				return 1.0 / 6
			}
			return 0
		},
		"hard_swish": func(v float64) float64 {
			switch {
			case v >= 3:
				return 1
			case v > -3:
				return (2*v + 3) / 6
			}
			return 0
		},
		"silu": func(v float64) float64 { return sig(v) * (1 + v*(1-sig(v))) },
	}
	for f, g := range want {
		a, err := NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Build([]tensor.Shape{{8}}); err != nil {
			t.Fatal(err)
		}
		a.Forward(&Context{Training: true}, []*tensor.Tensor{x})
		dy, _ := tensor.FromSlice([]float32{2, 2, 2, 2, 2, 2, 2, 2}, 1, 8)
		dx := a.Backward(&Context{Training: true}, dy)[0]
		for i, v := range x.Data {
			if w := 2 * g(float64(v)); math.Abs(float64(dx.Data[i])-w) > 1e-6 {
				t.Errorf("%s gradient at %v = %v, want %v", f, v, dx.Data[i], w)
			}
		}
	}
}
