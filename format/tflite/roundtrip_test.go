package tflite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// runFloat runs m on float inputs and returns output 0 as float32.
func runFloat(t *testing.T, m *lite.Model, x *tensor.Tensor) []float32 {
	t.Helper()
	it, err := lite.NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), it.Output(0).Data...)
}

// roundings lists the rounding modes the round trips run in.
var roundings = []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite, lite.RoundingTFLiteReference}

// withRounding returns a copy of m (sharing its tensors and ops) in the
// given rounding mode.
func withRounding(m *lite.Model, r lite.Rounding) *lite.Model {
	c := *m
	c.Rounding = r
	return &c
}

// quantParams lists every int8 tensor's (scale, zero point) and every
// weighted op's weight scales, in order.
func quantParams(m *lite.Model) (acts []string, weights []string) {
	for _, op := range m.Ops {
		if t := m.Tensors[op.Output]; t.DType == lite.Int8 {
			acts = append(acts, fmt.Sprintf("%v/%d", t.Scale, t.ZeroPoint))
		}
		if len(op.WeightScales) > 0 {
			weights = append(weights, fmt.Sprintf("%v", op.WeightScales))
		}
	}
	return acts, weights
}

// TestRoundTrip exports every built-in network, float-edged and full
// integer, reads the file back and checks that the interpreter's outputs
// are bit-identical and that every scale, zero point and per-channel
// weight scale is kept exactly.
func TestRoundTrip(t *testing.T) {
	nets := testNets
	if testing.Short() {
		nets = nets[:3]
	}
	for _, net := range nets {
		t.Run(net.name, func(t *testing.T) {
			im, x := int8Net(t, net, 8)
			for _, full := range []bool{false, true} {
				b, err := Marshal(im, Options{FullInteger: full})
				if err != nil {
					t.Fatal(err)
				}
				back, err := Read(b)
				if err != nil {
					t.Fatalf("full-integer %v: %v", full, err)
				}
				src := im
				if full {
					if src, err = FullInteger(im); err != nil {
						t.Fatal(err)
					}
				}
				// The same ops (import folds back the patterns export
				// writes) and the same quantization parameters: every
				// activation's scale and zero point, every weight scale.
				if t1, t2 := opTypes(src), opTypes(back); t1 != t2 {
					t.Errorf("ops after the round trip:\n%s\nwant\n%s", t2, t1)
				}
				a1, w1 := quantParams(src)
				a2, w2 := quantParams(back)
				if fmt.Sprint(w1) != fmt.Sprint(w2) {
					t.Errorf("weight scales differ after the round trip")
				}
				if fmt.Sprint(a1) != fmt.Sprint(a2) {
					t.Errorf("activation scales and zero points differ after the round trip")
				}
				if back.Rounding != lite.RoundingGoqat {
					t.Errorf("imported rounding %q, want %q (the fast default)", back.Rounding, lite.RoundingGoqat)
				}
				// Bit-identical in every rounding mode.
				for _, mode := range roundings {
					s, g := withRounding(src, mode), withRounding(back, mode)
					if full {
						codes := inputCodes(s, x)
						want, got := runGoqat(t, s, codes), runGoqat(t, g, codes)
						if fmt.Sprint(want) != fmt.Sprint(got) {
							t.Errorf("rounding %s: full-integer outputs differ after the round trip", mode)
						}
						continue
					}
					want, got := runFloat(t, s, x), runFloat(t, g, x)
					for i := range want {
						if want[i] != got[i] {
							t.Fatalf("rounding %s: output %d: %v after the round trip, want %v", mode, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// opTypes lists a model's op types.
func opTypes(m *lite.Model) string {
	var s []string
	for _, op := range m.Ops {
		if op.TFLiteMean {
			s = append(s, string(op.Type)+"(MEAN)")
			continue
		}
		s = append(s, string(op.Type))
	}
	return strings.Join(s, " ")
}

// TestRoundTripOps exports hand-made models of the ops the built-in
// networks do not use (Mul with broadcasting, Softmax, Logistic, Tanh,
// HardSwish, Pad, Slice, Concatenation with requantization, per-tensor
// FullyConnected, depth multiplier, dilation, explicit padding) and
// checks the bit-identical round trip.
func TestRoundTripOps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ms := opModels(r)
	for _, name := range sortedNames(ms) {
		m := ms[name]
		t.Run(name, func(t *testing.T) {
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if t1, t2 := opTypes(m), opTypes(back); t1 != t2 {
				t.Errorf("ops after the round trip:\n%s\nwant\n%s", t2, t1)
			}
			x := randomImages(r, 3, m.Tensors[m.Inputs[0]].Shape)
			for i := range x.Data {
				x.Data[i] = 4*x.Data[i] - 2
			}
			for _, mode := range roundings {
				want, got := runFloat(t, withRounding(m, mode), x), runFloat(t, withRounding(back, mode), x)
				for i := range want {
					if want[i] != got[i] {
						t.Fatalf("rounding %s: output %d: %v after the round trip, want %v", mode, i, got[i], want[i])
					}
				}
			}
		})
	}
}

// TestFloatRoundTrip exports every built-in network's float model
// (MarshalFloat), reads it back (ReadFloat) and compares the predictions:
// within 1e-5 of each row's largest output (BatchNormalization comes back
// as two per-channel affine BatchNormalizations, the same up to
// rounding).
func TestFloatRoundTrip(t *testing.T) {
	list := testNets
	if testing.Short() {
		list = list[:3]
	}
	for _, net := range list {
		t.Run(net.name, func(t *testing.T) {
			_, x, fm := nets(t, net, 4)
			b, err := MarshalFloat(fm)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ReadFloat(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Read(b); !errors.Is(err, ErrFloatModel) {
				t.Errorf("Read of a float model: %v, want ErrFloatModel", err)
			}
			want, err := fm.Predict(context.Background(), x, 4)
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.Predict(context.Background(), x, 4)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Shape.Equal(want.Shape) {
				t.Fatalf("output shape %v, want %v", got.Shape, want.Shape)
			}
			c := len(want.Data) / x.Shape[0]
			for r := 0; r < x.Shape[0]; r++ {
				big := 0.0
				for _, v := range want.Data[r*c : (r+1)*c] {
					big = math.Max(big, math.Abs(float64(v)))
				}
				for j := r * c; j < (r+1)*c; j++ {
					if d := math.Abs(float64(got.Data[j] - want.Data[j])); d > 1e-5*big {
						t.Fatalf("output %d: %v after the round trip, want %v", j, got.Data[j], want.Data[j])
					}
				}
			}
		})
	}
}
