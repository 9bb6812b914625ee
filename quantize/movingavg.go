package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// MovingAverage is the activations' quantizer: the range is an exponential
// moving average (decay Spec.Decay, 0.999 by default) of each training
// batch's min and max, as tfmot's MovingAverageQuantizer, but initialised
// from the first batch (not +-6). Each batch's range is extended to contain
// zero first, so the average always does.
type MovingAverage struct {
	rangeState
}

// Build creates the state (per tensor).
func (q *MovingAverage) Build(prefix string, shape tensor.Shape) error {
	return q.build(prefix, shape)
}

// Forward updates the average with x's range when training (or records it
// if not initialised), then fake-quantizes x into y.
func (q *MovingAverage) Forward(c *nn.Context, x, y *tensor.Tensor) {
	if q.needsRange(c) {
		q.observe(q.pm.run(x.Data))
	}
	q.refresh()
	q.apply(x, y)
}

// needsRange reports whether Forward records the range of x: when training
// or not initialised.
func (q *MovingAverage) needsRange(c *nn.Context) bool { return c.Training || !q.initialised() }

// observe moves the average towards a batch's range [lo, hi] (extended to
// contain zero), or records it if not initialised.
func (q *MovingAverage) observe(lo, hi float32) {
	lo, hi = min(lo, 0), max(hi, 0)
	mn, mx := q.min.Value.Data, q.max.Value.Data
	if !q.initialised() {
		mn[0], mx[0] = lo, hi
		q.init.Value.Data[0] = 1
		return
	}
	d := q.spec.Decay
	if d == 0 {
		d = DefaultDecay
	}
	mn[0] = float32(float64(mn[0])*d + float64(lo)*(1-d))
	mx[0] = float32(float64(mx[0])*d + float64(hi)*(1-d))
}

// AllValues is the model input's quantizer: the range is the running
// global min and max of every training batch seen (it only grows).
type AllValues struct {
	rangeState
}

// Build creates the state (per tensor).
func (q *AllValues) Build(prefix string, shape tensor.Shape) error {
	return q.build(prefix, shape)
}

// Forward widens the range to x's when training (or records it if not
// initialised), then fake-quantizes x into y.
func (q *AllValues) Forward(c *nn.Context, x, y *tensor.Tensor) {
	if q.needsRange(c) {
		q.observe(q.pm.run(x.Data))
	}
	q.refresh()
	q.apply(x, y)
}

// needsRange reports whether Forward records the range of x: when training
// or not initialised.
func (q *AllValues) needsRange(c *nn.Context) bool { return c.Training || !q.initialised() }

// observe widens the range to a batch's [lo, hi] (extended to contain
// zero), or records it if not initialised.
func (q *AllValues) observe(lo, hi float32) {
	lo, hi = min(lo, 0), max(hi, 0)
	mn, mx := q.min.Value.Data, q.max.Value.Data
	if !q.initialised() {
		mn[0], mx[0] = lo, hi
		q.init.Value.Data[0] = 1
		return
	}
	mn[0], mx[0] = min(mn[0], lo), max(mx[0], hi)
}
