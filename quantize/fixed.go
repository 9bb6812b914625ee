package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// Fixed quantizes with a fixed scale and zero point (Spec.Scale,
// Spec.ZeroPoint): softmax and sigmoid outputs use 1/256 and -128, tanh
// 1/128 and 0 (SoftmaxSpec, TanhSpec). It has no state.
type Fixed struct {
	spec Spec
	p    fq
}

// Spec returns the quantizer's description.
func (q *Fixed) Spec() Spec { return q.spec }

// Build precomputes the constants; there is no state.
func (q *Fixed) Build(prefix string, shape tensor.Shape) error {
	qmin, qmax := qmath.QRange(q.spec.Bits, q.spec.Narrow)
	q.p = newFQ(q.spec.Scale, q.spec.ZeroPoint, qmin, qmax)
	return nil
}

// Params returns nil: a fixed quantizer has no state.
func (q *Fixed) Params() []*nn.Param { return nil }

// Forward fake-quantizes x into y.
func (q *Fixed) Forward(c *nn.Context, x, y *tensor.Tensor) { q.p.apply(x.Data, y.Data) }

// Backward writes the straight-through gradient.
func (q *Fixed) Backward(c *nn.Context, x, dy, dx *tensor.Tensor) { q.p.ste(x.Data, dy.Data, dx.Data) }

// Scales returns the fixed scale and zero point.
func (q *Fixed) Scales() ([]float32, []int32) {
	return []float32{q.spec.Scale}, []int32{q.spec.ZeroPoint}
}
