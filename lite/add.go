package lite

import (
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/lite/fixedpoint"
)

// addKernel is Add with input rescaling: both inputs are brought to the
// output's scale with multipliers sharing one shift and summed before a
// single rounding,
//
//	q = clamp(round((s1*(q1-zp1) + s2*(q2-zp2)) / s_out) + zp_out, lo, hi)
//
// run by qkernels.AddRows (vector loop where the CPU has one).
// a (N, ...), b (N, ...) -> out (N, ...)
type addKernel struct {
	it        *Interpreter
	a, b, out int
	size      int
	p         *qkernels.AddParams
}

func newAdd(it *Interpreter, op *Op) (*addKernel, error) {
	ta, tb, to := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]], &it.m.Tensors[op.Output]
	m, s, err := fixedpoint.CommonMultipliers(float64(ta.Scale)/float64(to.Scale), float64(tb.Scale)/float64(to.Scale))
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(to, op.Activation)
	p, err := qkernels.NewAddParams(int64(ta.ZeroPoint), int64(tb.ZeroPoint), m[0], m[1], s, int64(to.ZeroPoint), int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	return &addKernel{it: it, a: op.Inputs[0], b: op.Inputs[1], out: op.Output, size: to.Shape.Size(), p: p}, nil
}

func (k *addKernel) alloc(int) {}

func (k *addKernel) run(n int) {
	tot := n * k.size
	qkernels.AddRows(k.it.i8[k.out][:tot], k.it.i8[k.a][:tot], k.it.i8[k.b][:tot], k.p)
}
