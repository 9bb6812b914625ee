package nn

import (
	"fmt"
	"math"
)

// ReduceLROnPlateau lowers the learning rate when a monitored metric has
// stopped improving, as Keras's ReduceLROnPlateau (docs/DESIGN.md, Training
// callbacks). After each epoch it logs the optimizer's current rate as
// "learning_rate"; the metric improves if it beats the best value so far by
// more than MinDelta; after Patience epochs in a row without improvement,
// if the rate is above MinLR, the rate becomes max(rate*Factor, MinLR),
// and the next Cooldown epochs reset the waiting (the last of them counts
// again when it does not improve, as in Keras). The optimizer must
// implement LRScaler (nn/optim's SGD and Adam do): the change multiplies
// the optimizer's schedule, so a decaying schedule keeps its shape, scaled
// down. The scale is not part of the optimizer's checkpointed state.
type ReduceLROnPlateau struct {
	// Monitor is the logged metric to watch (default "val_loss").
	Monitor string
	// Mode is ModeMin, ModeMax or ModeAuto (the default: max for names
	// containing "acc", else min).
	Mode string
	// Factor multiplies the rate at each reduction, in (0, 1) (default
	// 0.1).
	Factor float64
	// Patience is the number of epochs in a row without improvement after
	// which the rate is reduced (0: at every epoch that does not improve).
	Patience int
	// MinDelta is the smallest change that counts as an improvement (>= 0;
	// Keras's default is 1e-4, this one's is 0).
	MinDelta float64
	// Cooldown is the number of epochs after a reduction during which no
	// epoch counts towards Patience.
	Cooldown int
	// MinLR is the lowest rate a reduction sets (>= 0).
	MinLR float64

	mon      monitor
	opt      LRScaler
	wait     int
	cooldown int
	cuts     int
}

// TrainBegin validates the settings and the optimizer and resets the
// state.
func (r *ReduceLROnPlateau) TrainBegin(t *Training) error {
	if r.Factor == 0 {
		r.Factor = 0.1
	}
	switch {
	case !(r.Factor > 0 && r.Factor < 1):
		return fmt.Errorf("nn: ReduceLROnPlateau: Factor %v must be in (0, 1)", r.Factor)
	case r.Patience < 0 || r.Cooldown < 0:
		return fmt.Errorf("nn: ReduceLROnPlateau: Patience %d and Cooldown %d must not be negative", r.Patience, r.Cooldown)
	case !(r.MinLR >= 0) || math.IsInf(r.MinLR, 0):
		return fmt.Errorf("nn: ReduceLROnPlateau: MinLR %v must be a finite number >= 0", r.MinLR)
	}
	opt, ok := t.Optimizer.(LRScaler)
	if !ok {
		return fmt.Errorf("nn: ReduceLROnPlateau: the optimizer %T cannot change its learning rate (it does not implement nn.LRScaler)", t.Optimizer)
	}
	mon, err := newMonitor("ReduceLROnPlateau", r.Monitor, r.Mode, r.MinDelta)
	if err != nil {
		return err
	}
	if err := mon.check("ReduceLROnPlateau", t); err != nil {
		return err
	}
	r.mon, r.opt, r.wait, r.cooldown, r.cuts = mon, opt, 0, 0, 0
	return nil
}

// EpochEnd logs the rate and reduces it when the metric has plateaued.
func (r *ReduceLROnPlateau) EpochEnd(t *Training, epoch int, logs map[string]float64) error {
	logs["learning_rate"] = r.opt.LearningRate()
	v, err := r.mon.value("ReduceLROnPlateau", logs)
	if err != nil {
		return err
	}
	if r.cooldown > 0 {
		r.cooldown--
		r.wait = 0
	}
	if r.mon.improves(v) {
		r.mon.record(v)
		r.wait = 0
		return nil
	}
	if r.cooldown > 0 {
		return nil
	}
	r.wait++
	if r.wait < r.Patience {
		return nil
	}
	old := r.opt.LearningRate()
	// Compared in float32, the optimizers' precision, so that a rate set to
	// MinLR is not reduced again by a rounding error.
	if !(float32(old) > float32(r.MinLR)) {
		return nil
	}
	lr := max(old*r.Factor, r.MinLR)
	r.opt.ScaleLearningRate(lr / old)
	r.cooldown, r.wait = r.Cooldown, 0
	r.cuts++
	return nil
}

// TrainEnd does nothing.
func (r *ReduceLROnPlateau) TrainEnd(*Training) error { return nil }

// Reductions returns how many times the last Fit reduced the rate.
func (r *ReduceLROnPlateau) Reductions() int { return r.cuts }
