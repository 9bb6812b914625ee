package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// LastValue is the weights' quantizer: at every training step the range is
// the current tensor's min and max per channel (symmetric: +-max|w|), as
// tfmot's LastValueQuantizer. The range of the last training step is kept
// as state and used, frozen, in inference mode.
type LastValue struct {
	rangeState
}

// Build creates the state (per channel of Spec.Axis with PerAxis).
func (q *LastValue) Build(prefix string, shape tensor.Shape) error {
	return q.build(prefix, shape)
}

// Forward records the range of x when training (or when not initialised),
// then fake-quantizes x into y.
func (q *LastValue) Forward(c *nn.Context, x, y *tensor.Tensor) {
	if c.Training || !q.initialised() {
		q.record(x.Data)
	}
	q.refresh()
	q.apply(x, y)
}

// record sets min and max from x.
func (q *LastValue) record(x []float32) {
	lo, hi := q.min.Value.Data, q.max.Value.Data
	q.channelMinMax(x, lo, hi)
	if q.spec.Symmetric {
		for c := range lo {
			m := max(-lo[c], hi[c])
			lo[c], hi[c] = -m, m
		}
	}
	q.init.Value.Data[0] = 1
}
