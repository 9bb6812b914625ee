// Package optim holds goqat's optimizers, SGD (with momentum) and Adam, and
// their learning-rate schedules. An optimizer's Step applies one update to
// every trainable parameter from its Grad, as Keras 3's optimizers do (same
// formulas and defaults), with float32 arithmetic and per-parameter state.
//
// An optimizer keeps its per-parameter state ("slots": SGD's velocity,
// Adam's m and v) keyed by the *nn.Param, so one optimizer serves one model;
// State and SetState export and restore it, with the step count, for
// checkpoints.
package optim

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// State is an optimizer's resumable state: the step count and one tensor
// per parameter for each slot (see nn.OptimizerState). It is the type
// nn.StatefulOptimizer uses, so nn.Fit's checkpoints save and restore SGD
// and Adam.
type State = nn.OptimizerState

// slotSet holds one named slot for every parameter an optimizer has seen.
type slotSet map[*nn.Param][]float32

// get returns p's slot, creating a zeroed one on first use.
func (s slotSet) get(p *nn.Param) []float32 {
	v, ok := s[p]
	if !ok {
		v = make([]float32, len(p.Value.Data))
		s[p] = v
	}
	return v
}

// export returns copies of the slots of params, in order (see State.Slots).
func (s slotSet) export(params []*nn.Param) []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		if !p.Trainable {
			continue
		}
		t := tensor.New(p.Value.Shape...)
		copy(t.Data, s[p])
		out[i] = t
	}
	return out
}

// check verifies that ts fits params (see State.Slots).
func (s slotSet) check(name string, params []*nn.Param, ts []*tensor.Tensor) error {
	if len(ts) != len(params) {
		return fmt.Errorf("optim: slot %q has %d tensors for %d parameters", name, len(ts), len(params))
	}
	for i, p := range params {
		if !p.Trainable {
			continue
		}
		t := ts[i]
		if t == nil || !t.Shape.Equal(p.Value.Shape) || len(t.Data) != len(p.Value.Data) {
			var got tensor.Shape
			if t != nil {
				got = t.Shape
			}
			return fmt.Errorf("optim: slot %q of parameter %d (%s): shape %v, want %v", name, i, p.Name, got, p.Value.Shape)
		}
	}
	return nil
}

// load copies ts, already checked, into the slots of params.
func (s slotSet) load(params []*nn.Param, ts []*tensor.Tensor) {
	for i, p := range params {
		if p.Trainable {
			copy(s.get(p), ts[i].Data)
		}
	}
}

// lrAt returns the schedule's rate for a step; a nil schedule is a
// programming error.
func lrAt(s Schedule, step int, who string) float32 {
	if s == nil {
		panic("optim: " + who + " has no learning-rate schedule (LR is nil)")
	}
	return float32(s.LR(step))
}

// decay applies decoupled weight decay, w -= lr*wd*w (Keras 3's
// weight_decay, AdamW's decoupled decay).
func decay(w []float32, lr, wd float32) {
	f := 1 - lr*wd
	for i, v := range w {
		w[i] = v * f
	}
}

// The optimizers satisfy the model's interfaces.
var (
	_ nn.StatefulOptimizer = (*SGD)(nil)
	_ nn.StatefulOptimizer = (*Adam)(nil)
)
