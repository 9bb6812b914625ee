package optim

import (
	"math"
	"testing"

	"github.com/goqat/goqat/nn"
)

// adamRef runs textbook Adam (Kingma & Ba, bias-corrected moments) in
// float64 with Keras's epsilon-hat placement, eps_hat = eps*sqrt(1-b2^t).
func adamRef(w float64, grads []float64, lr float64) float64 {
	const b1, b2, eps = 0.9, 0.999, 1e-7
	var m, v float64
	for i, g := range grads {
		t := float64(i + 1)
		m = b1*m + (1-b1)*g
		v = b2*v + (1-b2)*g*g
		mh := m / (1 - math.Pow(b1, t))
		vh := v / (1 - math.Pow(b2, t))
		w -= lr * mh / (math.Sqrt(vh) + eps/math.Sqrt(1-math.Pow(b2, t)))
	}
	return w
}

func TestAdamStep(t *testing.T) {
	// The first step moves each weight by about lr against its gradient's
	// sign: m/sqrt(v) = g/|g| after bias correction.
	p := param1([]float32{1, -2}, []float32{0.5, -3})
	o := NewAdam(0.1)
	o.Step([]*nn.Param{p})
	near(t, "step 1", p.Value.Data, []float64{0.9, -1.9}, 1e-5)

	grads := []float64{0.5, -0.25, 1.5, 0.1}
	p = param1([]float32{1}, []float32{0})
	o = NewAdam(0.01)
	for _, g := range grads {
		p.Grad.Data[0] = float32(g)
		o.Step([]*nn.Param{p})
	}
	near(t, "4 steps", p.Value.Data, []float64{adamRef(1, grads, 0.01)}, 1e-6)
	if o.Steps() != 4 {
		t.Fatalf("Steps %d", o.Steps())
	}

	// AdamW: w -= lr*wd*w before the Adam update.
	p = param1([]float32{2}, []float32{0.5})
	o = NewAdam(0.1)
	o.WeightDecay = 0.1
	o.Step([]*nn.Param{p})
	near(t, "weight decay", p.Value.Data, []float64{2*(1-0.01) - 0.1}, 1e-5)
}

func TestAdamMinimizesQuadratic(t *testing.T) {
	// f(w) = sum a_i (w_i - c_i)^2, badly conditioned.
	a := []float32{1, 10, 100, 0.1}
	c := []float32{3, -1, 0.5, 2}
	p := nn.NewParam("w", true, 4)
	o := &Adam{LR: Cosine{Base: 0.1, Steps: 1500, Min: 1e-4, Warmup: 10}, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}
	loss := func() float64 {
		var s float64
		for i, w := range p.Value.Data {
			d := float64(w - c[i])
			s += float64(a[i]) * d * d
		}
		return s
	}
	l0 := loss()
	for range 1500 {
		for i, w := range p.Value.Data {
			p.Grad.Data[i] = 2 * a[i] * (w - c[i])
		}
		o.Step([]*nn.Param{p})
	}
	for i, w := range p.Value.Data {
		if math.Abs(float64(w-c[i])) > 1e-3 {
			t.Fatalf("w = %v, want %v (loss %v from %v)", p.Value.Data, c, loss(), l0)
		}
	}
}

func TestAdamState(t *testing.T) {
	mk := func() []*nn.Param {
		return []*nn.Param{nn.NewParam("moving_variance", false, 2), param1([]float32{1, 2}, []float32{0.3, -0.7})}
	}
	pa, pb := mk(), mk()
	a := NewAdam(0.01)
	for range 3 {
		a.Step(pa)
	}
	st := a.State(pa)
	if st.Steps != 3 || st.Slots["m"][0] != nil || st.Slots["v"][1] == nil || st.Slots["v"][1].Data[0] == 0 {
		t.Fatalf("state %+v", st)
	}
	copy(pb[1].Value.Data, pa[1].Value.Data)
	b := NewAdam(0.01)
	if err := b.SetState(pb, st); err != nil {
		t.Fatal(err)
	}
	a.Step(pa)
	b.Step(pb)
	for i := range pa[1].Value.Data {
		if pa[1].Value.Data[i] != pb[1].Value.Data[i] {
			t.Fatalf("restored optimizer diverged: %v vs %v", pa[1].Value.Data, pb[1].Value.Data)
		}
	}
	delete(st.Slots, "v")
	if err := b.SetState(pb, st); err == nil {
		t.Fatal("SetState accepted a state without v")
	}
}
