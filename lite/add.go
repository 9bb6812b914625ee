package lite

import "github.com/goqat/goqat/lite/fixedpoint"

// addKernel is Add with input rescaling: both inputs are brought to the
// output's scale with multipliers sharing one shift and summed before a
// single rounding,
//
//	q = clamp(round((s1*(q1-zp1) + s2*(q2-zp2)) / s_out) + zp_out, lo, hi)
//
// a (N, ...), b (N, ...) -> out (N, ...)
type addKernel struct {
	it        *Interpreter
	a, b, out int
	size      int
	zpA, zpB  int64
	mA, mB    int64
	shift     uint
	zpOut     int64
	lo, hi    int32
}

func newAdd(it *Interpreter, op *Op) (*addKernel, error) {
	ta, tb, to := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]], &it.m.Tensors[op.Output]
	m, s, err := fixedpoint.CommonMultipliers(float64(ta.Scale)/float64(to.Scale), float64(tb.Scale)/float64(to.Scale))
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(to, op.Activation)
	return &addKernel{it: it, a: op.Inputs[0], b: op.Inputs[1], out: op.Output, size: to.Shape.Size(),
		zpA: int64(ta.ZeroPoint), zpB: int64(tb.ZeroPoint), mA: m[0], mB: m[1], shift: s,
		zpOut: int64(to.ZeroPoint), lo: lo, hi: hi}, nil
}

func (k *addKernel) alloc(int) {}

func (k *addKernel) run(n int) {
	tot := n * k.size
	a, b, y := k.it.i8[k.a][:tot], k.it.i8[k.b][:tot], k.it.i8[k.out][:tot]
	for i := range y {
		p := (int64(a[i])-k.zpA)*k.mA + (int64(b[i])-k.zpB)*k.mB
		v := fixedpoint.RoundShift(p, k.shift) + k.zpOut
		y[i] = int8(min(max(v, int64(k.lo)), int64(k.hi)))
	}
}
