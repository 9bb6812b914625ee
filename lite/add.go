package lite

import (
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
)

// addKernel is Add of 2 to 4 inputs with rescaling: every input is brought
// to the output's scale with multipliers sharing one shift and summed
// before a single rounding,
//
//	q = clamp(round(sum_i s_i*(q_i-zp_i) / s_out) + zp_out, lo, hi)
//
// (qmath.CommonMultipliers), lo and hi narrowed by a fused ReLU/ReLU6. Two
// inputs run through qkernels.AddRows (a vector loop where the CPU has
// one), more through the scalar loop of addN.
// in_i (N, ...) -> out (N, ...)
type addKernel struct {
	it     *Interpreter
	ins    []int
	out    int
	size   int
	p      *qkernels.AddParams // two inputs
	mant   []int64             // more: the common multipliers,
	zp     []int64             // the inputs' zero points,
	shift  uint                // the shared shift
	zpOut  int64
	lo, hi int64
	tot    int // elements of the current run
	r      qkernels.Runner
	partFn func(part, lo, hi int)
}

func newAdd(it *Interpreter, op *Op) (*addKernel, error) {
	to := &it.m.Tensors[op.Output]
	var reals []float64
	for _, i := range op.Inputs {
		reals = append(reals, float64(it.m.Tensors[i].Scale)/float64(to.Scale))
	}
	m, s, err := qmath.CommonMultipliers(reals...)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(to, op.Activation)
	k := &addKernel{it: it, ins: op.Inputs, out: op.Output, size: to.Shape.Size(), mant: m, shift: s,
		zpOut: int64(to.ZeroPoint), lo: int64(lo), hi: int64(hi)}
	for _, i := range op.Inputs {
		k.zp = append(k.zp, int64(it.m.Tensors[i].ZeroPoint))
	}
	if len(op.Inputs) == 2 {
		k.p, err = qkernels.NewAddParams(k.zp[0], k.zp[1], m[0], m[1], s, k.zpOut, k.lo, k.hi)
		if err != nil {
			return nil, err
		}
	}
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
	y := k.it.i8[k.out][e0:e1]
	if k.p != nil {
		qkernels.AddRows(y, k.it.i8[k.ins[0]][e0:e1], k.it.i8[k.ins[1]][e0:e1], k.p)
		return
	}
	k.addN(y, e0)
}

// addN is the reference sum of any number of inputs, element by element.
func (k *addKernel) addN(y []int8, e0 int) {
	for j := range y {
		p := int64(0)
		for i, in := range k.ins {
			p += (int64(k.it.i8[in][e0+j]) - k.zp[i]) * k.mant[i]
		}
		v := qmath.RoundShift(p, k.shift) + k.zpOut
		y[j] = int8(min(max(v, k.lo), k.hi))
	}
}
