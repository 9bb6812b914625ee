package optim

import (
	"math"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// param1 returns a trainable parameter holding w with gradient g.
func param1(w, g []float32) *nn.Param {
	p := nn.NewParam("w", true, len(w))
	copy(p.Value.Data, w)
	copy(p.Grad.Data, g)
	return p
}

// near fails unless got matches want within tol.
func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

// stepsLR is a schedule that returns its i-th entry at step i.
type stepsLR []float64

func (s stepsLR) LR(step int) float64 { return s[step] }

func TestSGDStep(t *testing.T) {
	p := param1([]float32{1, -2}, []float32{0.5, -1})
	o := NewSGD(0.1, 0)
	o.Step([]*nn.Param{p})
	near(t, "plain", p.Value.Data, []float64{0.95, -1.9}, 1e-7)
	if o.Steps() != 1 {
		t.Fatalf("Steps %d", o.Steps())
	}

	// Momentum: v = 0.9v - lr*g; w += v.
	p = param1([]float32{1}, []float32{0.5})
	o = NewSGD(0.1, 0.9)
	o.Step([]*nn.Param{p})
	near(t, "momentum step 1", p.Value.Data, []float64{0.95}, 1e-7)
	o.Step([]*nn.Param{p})
	near(t, "momentum step 2", p.Value.Data, []float64{0.95 - 0.095}, 1e-7)

	// Nesterov: w += 0.9v - lr*g with the new v.
	p = param1([]float32{1}, []float32{0.5})
	o = NewSGD(0.1, 0.9)
	o.Nesterov = true
	o.Step([]*nn.Param{p})
	near(t, "nesterov step 1", p.Value.Data, []float64{0.905}, 1e-7)
	o.Step([]*nn.Param{p})
	near(t, "nesterov step 2", p.Value.Data, []float64{0.905 - 0.1355}, 1e-7)

	// Decoupled weight decay: w -= lr*wd*w first.
	p = param1([]float32{1}, []float32{0.5})
	o = NewSGD(0.1, 0)
	o.WeightDecay = 0.01
	o.Step([]*nn.Param{p})
	near(t, "weight decay", p.Value.Data, []float64{0.949}, 1e-7)

	// The schedule is read at the number of steps taken before.
	p = param1([]float32{1}, []float32{1})
	o = &SGD{LR: stepsLR{0.5, 0.25}}
	o.Step([]*nn.Param{p})
	o.Step([]*nn.Param{p})
	near(t, "schedule", p.Value.Data, []float64{0.25}, 1e-7)
}

func TestSGDSkipsNonTrainable(t *testing.T) {
	state := nn.NewParam("moving_mean", false, 2)
	state.Value.Data[0] = 3
	noGrad := nn.NewParam("w", true, 1)
	noGrad.Grad = nil
	o := NewSGD(0.1, 0.9)
	o.Step([]*nn.Param{state, noGrad})
	if state.Value.Data[0] != 3 || noGrad.Value.Data[0] != 0 {
		t.Fatal("non-trainable or gradient-less parameter changed")
	}
}

func TestSGDState(t *testing.T) {
	mk := func() []*nn.Param {
		return []*nn.Param{param1([]float32{1, 2, 3}, []float32{0.1, -0.2, 0.3}), nn.NewParam("moving_mean", false, 3)}
	}
	pa, pb := mk(), mk()
	a := NewSGD(0.1, 0.9)
	a.Step(pa)
	a.Step(pa)
	st := a.State(pa)
	if st.Steps != 2 || len(st.Slots["velocity"]) != 2 || st.Slots["velocity"][1] != nil {
		t.Fatalf("state %+v", st)
	}
	copy(pb[0].Value.Data, pa[0].Value.Data)
	b := NewSGD(0.1, 0.9)
	if err := b.SetState(pb, st); err != nil {
		t.Fatal(err)
	}
	a.Step(pa)
	b.Step(pb)
	for i := range pa[0].Value.Data {
		if pa[0].Value.Data[i] != pb[0].Value.Data[i] {
			t.Fatalf("restored optimizer diverged: %v vs %v", pa[0].Value.Data, pb[0].Value.Data)
		}
	}
	st.Slots["velocity"][0] = tensor.New(2)
	if err := b.SetState(pb, st); err == nil {
		t.Fatal("SetState accepted a slot of the wrong shape")
	}
	if err := NewSGD(0.1, 0.9).SetState(pb, State{Steps: 3}); err == nil {
		t.Fatal("SetState accepted momentum state without velocity")
	}
}
