package optim

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Adam is the Adam optimizer with optional decoupled weight decay (AdamW),
// as Keras 3's Adam and AdamW. At step t (1 for the first):
//
//	w -= lr*WeightDecay*w                       (if WeightDecay > 0)
//	m += (g - m)*(1-Beta1)
//	v += (g*g - v)*(1-Beta2)
//	w -= alpha*m/(sqrt(v) + Epsilon),   alpha = lr*sqrt(1-Beta2^t)/(1-Beta1^t)
//
// The bias correction is folded into alpha, so Epsilon is Keras's "epsilon
// hat" (1e-7 by default), not the paper's.
type Adam struct {
	// LR is the learning-rate schedule.
	LR Schedule
	// Beta1, Beta2 are the moment decays (0.9, 0.999).
	Beta1, Beta2 float64
	// Epsilon guards the division (1e-7).
	Epsilon float64
	// WeightDecay is the decoupled weight decay factor (0: none).
	WeightDecay float64

	steps int
	m, v  slotSet
}

// NewAdam returns Adam with a constant learning rate and Keras's defaults.
func NewAdam(lr float64) *Adam {
	return &Adam{LR: Constant(lr), Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}
}

// Steps returns the number of Step calls taken.
func (a *Adam) Steps() int { return a.steps }

// Step updates every trainable parameter from its Grad.
func (a *Adam) Step(params []*nn.Param) {
	lr := lrAt(a.LR, a.steps, "Adam")
	t := float64(a.steps + 1)
	alpha := float32(float64(lr) * math.Sqrt(1-math.Pow(a.Beta2, t)) / (1 - math.Pow(a.Beta1, t)))
	c1, c2 := float32(1-a.Beta1), float32(1-a.Beta2)
	eps := float32(a.Epsilon)
	wd := float32(a.WeightDecay)
	if a.m == nil {
		a.m, a.v = slotSet{}, slotSet{}
	}
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		w := p.Value.Data
		g := p.Grad.Data[:len(w)]
		if wd != 0 {
			decay(w, lr, wd)
		}
		m := a.m.get(p)[:len(w)]
		v := a.v.get(p)[:len(w)]
		for i, gi := range g {
			mi := m[i] + (gi-m[i])*c1
			vi := v[i] + (gi*gi-v[i])*c2
			m[i] = mi
			v[i] = vi
			w[i] -= alpha * mi / (float32(math.Sqrt(float64(vi))) + eps)
		}
	}
	a.steps++
}

// State returns the step count and the "m" and "v" slots of params (see
// State).
func (a *Adam) State(params []*nn.Param) State {
	return State{Steps: a.steps, Slots: map[string][]*tensor.Tensor{
		"m": a.m.export(params),
		"v": a.v.export(params),
	}}
}

// SetState restores a State from State for the same params.
func (a *Adam) SetState(params []*nn.Param, st State) error {
	if st.Steps < 0 {
		return fmt.Errorf("optim: Adam state has %d steps", st.Steps)
	}
	ms, okm := st.Slots["m"]
	vs, okv := st.Slots["v"]
	if !okm || !okv {
		return fmt.Errorf("optim: Adam state needs slots m and v")
	}
	if a.m == nil {
		a.m, a.v = slotSet{}, slotSet{}
	}
	if err := a.m.check("m", params, ms); err != nil {
		return err
	}
	if err := a.v.check("v", params, vs); err != nil {
		return err
	}
	a.m.load(params, ms)
	a.v.load(params, vs)
	a.steps = st.Steps
	return nil
}
