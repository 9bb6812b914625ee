package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Callback hooks into Fit at the start of training, after every epoch and
// at the end, as Keras callbacks do (docs/DESIGN.md, Training callbacks).
// Fit calls the callbacks of FitOptions.Callbacks in order at each point.
// A callback's state is its own: it is not saved in Fit's checkpoints, so
// a resumed Fit (FitOptions.Resume) starts its callbacks afresh and they
// see only the epochs run after the resume point.
type Callback interface {
	// TrainBegin is called once before the first step; an error stops Fit
	// before it trains.
	TrainBegin(t *Training) error
	// EpochEnd is called after every epoch (after its validation, its
	// checkpoint and FitOptions.OnEpochEnd) with the epoch index (from 0)
	// and its logs ("loss", "accuracy", "val_loss", "val_accuracy"; with
	// several outputs also "<output>_loss", "<output>_accuracy" and their
	// "val_" forms, see Model.FitMulti; a callback may add entries, as ReduceLROnPlateau adds
	// "learning_rate", which the following callbacks see). Setting
	// t.StopTraining ends Fit after this epoch's callbacks; an error stops
	// Fit at once and Fit returns it.
	EpochEnd(t *Training, epoch int, logs map[string]float64) error
	// TrainEnd is called once after the last epoch, or after the epoch
	// whose callbacks set StopTraining; not when Fit fails or is
	// cancelled. An error is returned by Fit with the History.
	TrainEnd(t *Training) error
}

// Training is what Fit shows its callbacks.
type Training struct {
	// Model is the model being trained.
	Model *Model
	// Optimizer is the compiled optimizer.
	Optimizer Optimizer
	// Epochs is FitOptions.Epochs.
	Epochs int
	// Metrics lists the names the epoch logs will hold ("loss",
	// "accuracy", "val_loss", "val_accuracy", each output's
	// "<output>_loss" ...), so that a callback can
	// reject a monitored name in TrainBegin rather than after an epoch.
	Metrics []string
	// StopTraining, set by a callback in EpochEnd, ends Fit after the
	// epoch (Keras's model.stop_training).
	StopTraining bool
}

// LRScaler is an optimizer whose learning rate a callback can change:
// nn/optim's SGD and Adam implement it (ReduceLROnPlateau needs it).
type LRScaler interface {
	// LearningRate returns the rate of the optimizer's next step.
	LearningRate() float64
	// ScaleLearningRate multiplies the rate of every following step by f
	// (f > 0), on top of the optimizer's schedule.
	ScaleLearningRate(f float64)
}

// Monitor modes: whether a monitored metric improves by going down or up.
const (
	ModeAuto = ""    // "max" for names containing "acc", else "min"
	ModeMin  = "min" // lower is better (losses)
	ModeMax  = "max" // higher is better (accuracies)
)

// monitor tracks the best value of one logged metric, as Keras's
// EarlyStopping, ModelCheckpoint and ReduceLROnPlateau do.
type monitor struct {
	name     string
	max      bool    // higher is better
	minDelta float64 // an improvement must exceed this (>= 0)
	best     float64
	seen     bool
}

// newMonitor validates a monitored name and mode for the callback who.
func newMonitor(who, name, mode string, minDelta float64) (monitor, error) {
	if name == "" {
		name = "val_loss"
	}
	mx := false
	switch mode {
	case ModeAuto:
		mx = strings.Contains(name, "acc") || strings.HasPrefix(name, "fmeasure") || strings.Contains(name, "auc")
	case ModeMin:
	case ModeMax:
		mx = true
	default:
		return monitor{}, fmt.Errorf("nn: %s: mode %q, want \"min\", \"max\" or \"\" (auto)", who, mode)
	}
	if !(minDelta >= 0) || math.IsInf(minDelta, 0) {
		return monitor{}, fmt.Errorf("nn: %s: MinDelta %v must be a finite number >= 0", who, minDelta)
	}
	return monitor{name: name, max: mx, minDelta: minDelta}, nil
}

// check reports an error if the epoch logs will not hold the monitored
// metric.
func (mo *monitor) check(who string, t *Training) error {
	if slices.Contains(t.Metrics, mo.name) {
		return nil
	}
	hint := ""
	if strings.HasPrefix(mo.name, "val_") {
		hint = " (pass validation data)"
	}
	return fmt.Errorf("nn: %s: monitored metric %q is not logged by this Fit; it logs %s%s", who, mo.name, strings.Join(t.Metrics, ", "), hint)
}

// value returns the monitored metric from an epoch's logs.
func (mo *monitor) value(who string, logs map[string]float64) (float64, error) {
	v, ok := logs[mo.name]
	if !ok {
		return 0, fmt.Errorf("nn: %s: monitored metric %q is not in the epoch logs", who, mo.name)
	}
	return v, nil
}

// improves reports whether v beats the best value so far by more than the
// minimum delta (always true for the first value; never for NaN).
func (mo *monitor) improves(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if !mo.seen {
		return true
	}
	if mo.max {
		return v-mo.minDelta > mo.best
	}
	return v+mo.minDelta < mo.best
}

// record makes v the best value.
func (mo *monitor) record(v float64) { mo.best, mo.seen = v, true }

// reset forgets the best value (at the start of a Fit).
func (mo *monitor) reset() { mo.best, mo.seen = 0, false }
