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
	q.forward(c, x, y, q.observe)
}

// observe moves the average towards a batch's range [lo, hi] (extended to
// contain zero), or records it if not initialised.
func (q *MovingAverage) observe(lo, hi float32) {
	lo, hi, first := q.first(lo, hi)
	if first {
		return
	}
	mn, mx := q.min.Value.Data, q.max.Value.Data
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
	q.forward(c, x, y, q.observe)
}

// observe widens the range to a batch's [lo, hi] (extended to contain
// zero), or records it if not initialised.
func (q *AllValues) observe(lo, hi float32) {
	lo, hi, first := q.first(lo, hi)
	if first {
		return
	}
	mn, mx := q.min.Value.Data, q.max.Value.Data
	mn[0], mx[0] = min(mn[0], lo), max(mx[0], hi)
}

// needsRange reports whether Forward records the range of x: when training
// or while the range is not initialised.
func (q *rangeState) needsRange(c *nn.Context) bool { return c.Training || !q.initialised() }

// first extends a batch's range [lo, hi] to contain zero and, if the state
// is not initialised, records it as the range and reports true.
func (q *rangeState) first(lo, hi float32) (float32, float32, bool) {
	lo, hi = min(lo, 0), max(hi, 0)
	if q.initialised() {
		return lo, hi, false
	}
	q.min.Value.Data[0], q.max.Value.Data[0] = lo, hi
	q.init.Value.Data[0] = 1
	return lo, hi, true
}

// forward is a range quantizer's Forward: observe x's range if needed,
// refresh the scale, and fake-quantize x into y.
func (q *rangeState) forward(c *nn.Context, x, y *tensor.Tensor, observe func(lo, hi float32)) {
	if q.needsRange(c) {
		observe(q.pm.run(x.Data))
	}
	q.refresh()
	q.apply(x, y)
}
