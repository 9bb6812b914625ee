package lite

import (
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
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
	tot       int // elements of the current run
	r         qkernels.Runner
	partFn    func(part, lo, hi int)
}

func newAdd(it *Interpreter, op *Op) (*addKernel, error) {
	ta, tb, to := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]], &it.m.Tensors[op.Output]
	m, s, err := qmath.CommonMultipliers(float64(ta.Scale)/float64(to.Scale), float64(tb.Scale)/float64(to.Scale))
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(to, op.Activation)
	p, err := qkernels.NewAddParams(int64(ta.ZeroPoint), int64(tb.ZeroPoint), m[0], m[1], s, int64(to.ZeroPoint), int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	k := &addKernel{it: it, a: op.Inputs[0], b: op.Inputs[1], out: op.Output, size: to.Shape.Size(), p: p}
	k.partFn = k.part
	k.r.Threads = it.threads
	return k, nil
}

func (k *addKernel) alloc(int) {}

// run splits the elements across threads in blocks of 64 (parts at least
// 16K elements).
func (k *addKernel) run(n int) {
	k.tot = n * k.size
	k.r.For((k.tot+63)/64, 256, k.partFn)
}

// part adds blocks [lo, hi) of 64 elements (the last may be short).
func (k *addKernel) part(_, lo, hi int) {
	e0, e1 := lo*64, min(hi*64, k.tot)
	qkernels.AddRows(k.it.i8[k.out][e0:e1], k.it.i8[k.a][e0:e1], k.it.i8[k.b][e0:e1], k.p)
}
