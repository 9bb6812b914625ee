package optim

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and decoupled weight decay, as Keras 3's SGD:
//
//	w -= lr*WeightDecay*w                       (if WeightDecay > 0)
//	v  = Momentum*v - lr*g                      (if Momentum > 0)
//	w += v                                      (plain momentum)
//	w += Momentum*v - lr*g                      (Nesterov)
//	w -= lr*g                                   (Momentum == 0)
type SGD struct {
	// LR is the learning-rate schedule.
	LR Schedule
	// Momentum is the velocity's decay, in [0, 1).
	Momentum float64
	// Nesterov selects Nesterov momentum.
	Nesterov bool
	// WeightDecay is the decoupled weight decay factor (0: none).
	WeightDecay float64

	steps    int
	velocity slotSet
}

// NewSGD returns SGD with a constant learning rate and the given momentum.
func NewSGD(lr, momentum float64) *SGD { return &SGD{LR: Constant(lr), Momentum: momentum} }

// Steps returns the number of Step calls taken.
func (s *SGD) Steps() int { return s.steps }

// Step updates every trainable parameter from its Grad.
func (s *SGD) Step(params []*nn.Param) {
	lr := lrAt(s.LR, s.steps, "SGD")
	mom := float32(s.Momentum)
	wd := float32(s.WeightDecay)
	if s.velocity == nil {
		s.velocity = slotSet{}
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
		if s.Momentum == 0 {
			for i, gi := range g {
				w[i] -= lr * gi
			}
			continue
		}
		v := s.velocity.get(p)[:len(w)]
		if s.Nesterov {
			for i, gi := range g {
				vi := mom*v[i] - lr*gi
				v[i] = vi
				w[i] += mom*vi - lr*gi
			}
		} else {
			for i, gi := range g {
				vi := mom*v[i] - lr*gi
				v[i] = vi
				w[i] += vi
			}
		}
	}
	s.steps++
}

// State returns the step count and, with momentum, the "velocity" slots of
// params (see State).
func (s *SGD) State(params []*nn.Param) State {
	st := State{Steps: s.steps, Slots: map[string][]*tensor.Tensor{}}
	if s.Momentum != 0 {
		st.Slots["velocity"] = s.velocity.export(params)
	}
	return st
}

// SetState restores a State from State for the same params.
func (s *SGD) SetState(params []*nn.Param, st State) error {
	if st.Steps < 0 {
		return fmt.Errorf("optim: SGD state has %d steps", st.Steps)
	}
	if s.velocity == nil {
		s.velocity = slotSet{}
	}
	if vs, ok := st.Slots["velocity"]; ok {
		if err := s.velocity.check("velocity", params, vs); err != nil {
			return err
		}
		s.velocity.load(params, vs)
	} else if s.Momentum != 0 && st.Steps > 0 {
		return fmt.Errorf("optim: SGD state has no velocity for SGD with momentum %v", s.Momentum)
	}
	s.steps = st.Steps
	return nil
}
