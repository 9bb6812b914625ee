package nn

import "fmt"

// EarlyStopping stops Fit when a monitored metric has stopped improving,
// as Keras's EarlyStopping (docs/DESIGN.md, Training callbacks). After each
// epoch the metric improves if it beats the best value so far by more than
// MinDelta (lower for ModeMin, higher for ModeMax); after Patience epochs
// in a row without improvement Fit stops (Patience 0: at the first epoch
// that does not improve; never after the first epoch, as in Keras). With RestoreBestWeights the
// parameters of the best epoch (all of them: weights, BatchNormalization
// statistics, quantizer state) are copied at that epoch and put back when
// training ends, stopped early or not.
type EarlyStopping struct {
	// Monitor is the logged metric to watch (default "val_loss").
	Monitor string
	// Mode is ModeMin, ModeMax or ModeAuto (the default: max for names
	// containing "acc", else min).
	Mode string
	// MinDelta is the smallest change that counts as an improvement (>= 0).
	MinDelta float64
	// Patience is the number of epochs in a row without improvement after
	// which training stops.
	Patience int
	// RestoreBestWeights puts the parameters of the best epoch back at the
	// end of training.
	RestoreBestWeights bool

	mon       monitor
	wait      int
	best      [][]float32 // copy of every parameter at the best epoch
	bestEpoch int
	stopped   int // epoch at which training stopped, -1 if it did not
}

// TrainBegin validates the settings and resets the state, so that one
// EarlyStopping can serve several Fit calls.
func (e *EarlyStopping) TrainBegin(t *Training) error {
	if e.Patience < 0 {
		return fmt.Errorf("nn: EarlyStopping: Patience %d must not be negative", e.Patience)
	}
	mon, err := newMonitor("EarlyStopping", e.Monitor, e.Mode, e.MinDelta)
	if err != nil {
		return err
	}
	if err := mon.check("EarlyStopping", t); err != nil {
		return err
	}
	e.mon, e.wait, e.best, e.bestEpoch, e.stopped = mon, 0, nil, -1, -1
	return nil
}

// EpochEnd records an improvement or counts an epoch without one, and
// sets t.StopTraining once Patience is exhausted.
func (e *EarlyStopping) EpochEnd(t *Training, epoch int, logs map[string]float64) error {
	v, err := e.mon.value("EarlyStopping", logs)
	if err != nil {
		return err
	}
	if e.mon.improves(v) {
		e.mon.record(v)
		e.wait, e.bestEpoch = 0, epoch
		if e.RestoreBestWeights {
			e.best = snapshotParams(t.Model, e.best)
		}
		return nil
	}
	e.wait++
	if e.wait >= e.Patience && epoch > 0 {
		t.StopTraining = true
		e.stopped = epoch
	}
	return nil
}

// TrainEnd restores the best epoch's parameters if RestoreBestWeights is
// set and an epoch improved.
func (e *EarlyStopping) TrainEnd(t *Training) error {
	if e.RestoreBestWeights && e.best != nil {
		restoreParams(t.Model, e.best)
	}
	return nil
}

// StoppedEpoch returns the epoch (from 0) after which the last Fit stopped
// early, or -1 if it ran all its epochs.
func (e *EarlyStopping) StoppedEpoch() int { return e.stopped }

// BestEpoch returns the epoch (from 0) with the best monitored value of
// the last Fit, or -1 before any epoch.
func (e *EarlyStopping) BestEpoch() int { return e.bestEpoch }

// Best returns the best monitored value of the last Fit (meaningful when
// BestEpoch is not -1).
func (e *EarlyStopping) Best() float64 { return e.mon.best }

// snapshotParams copies the values of every parameter of m into dst,
// reusing its storage.
func snapshotParams(m *Model, dst [][]float32) [][]float32 {
	ps := m.collectParams()
	if len(dst) != len(ps) {
		dst = make([][]float32, len(ps))
	}
	for i, p := range ps {
		dst[i] = append(dst[i][:0], p.Value.Data...)
	}
	return dst
}

// restoreParams copies a snapshot back into the parameters of m.
func restoreParams(m *Model, src [][]float32) {
	for i, p := range m.collectParams() {
		copy(p.Value.Data, src[i])
	}
}
