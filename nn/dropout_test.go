package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestDropoutGradCheck(t *testing.T) {
	gradCheck(t, NewDropout(0.3), 4, true, 1e-2, 2e-2, tensor.Shape{3, 5})
	gradCheck(t, NewDropout(0.3), 4, false, 1e-2, 2e-2, tensor.Shape{3, 5})
}

func TestDropoutMask(t *testing.T) {
	const rate = 0.25
	d := NewDropout(rate)
	if _, err := d.Build([]tensor.Shape{{101}}); err != nil {
		t.Fatal(err)
	}
	x := tensor.New(99, 101) // odd size: the last Uint64 is half used
	for i := range x.Data {
		x.Data[i] = float32(i%13) + 1
	}
	in := []*tensor.Tensor{x}
	out := d.Forward(&Context{Training: true, Rand: rand.New(rand.NewPCG(1, 2))}, in).Clone()
	dropped := 0
	scale := float32(1 / (1 - rate))
	for i, v := range out.Data {
		switch v {
		case 0:
			dropped++
		case x.Data[i] * scale:
		default:
			t.Fatalf("out[%d] = %v, want 0 or %v", i, v, x.Data[i]*scale)
		}
	}
	// 9999 draws: the dropped fraction is within 5 standard deviations.
	n := float64(len(x.Data))
	if sd := math.Sqrt(n * rate * (1 - rate)); math.Abs(float64(dropped)-n*rate) > 5*sd {
		t.Fatalf("dropped %d of %v, want about %v", dropped, n, n*rate)
	}
	// The same seed gives the same mask; another seed another one.
	same := d.Forward(&Context{Training: true, Rand: rand.New(rand.NewPCG(1, 2))}, in)
	for i := range same.Data {
		if same.Data[i] != out.Data[i] {
			t.Fatal("same seed, different mask")
		}
	}
	other := d.Forward(&Context{Training: true, Rand: rand.New(rand.NewPCG(3, 4))}, in)
	diff := 0
	for i := range other.Data {
		if other.Data[i] != out.Data[i] {
			diff++
		}
	}
	if diff == 0 {
		t.Fatal("different seeds, same mask")
	}
	// Inference is the identity and aliases its input and gradient.
	if y := d.Forward(&Context{}, in); y != x {
		t.Fatal("inference Forward must return its input")
	}
	if g := d.Backward(&Context{}, x); g[0] != x {
		t.Fatal("inference Backward must return dOut")
	}
}

func TestDropoutErrors(t *testing.T) {
	for _, r := range []float64{-0.1, 1, 1.5, math.NaN()} {
		_, err := NewDropout(r).Build([]tensor.Shape{{3}})
		wantErrC(t, err, "rate")
	}
	ctor, _ := lookup("Dropout")
	_, err := ctor("dropout", json.RawMessage(`{"rate": 1}`))
	wantErrC(t, err, "rate")
	d := NewDropout(0.5)
	d.SetName("dropout")
	roundTripC(t, d)
}
