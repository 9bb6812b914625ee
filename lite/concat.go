package lite

import "github.com/goqat/goqat/qmath"

// concatKernel is Concatenation along any per-sample axis. An input whose
// scale and zero point differ from the output's (or whose range a fused
// activation narrows) is requantized,
// q = clamp(round((q_in - zp_in) * s_in/s_out) + zp_out, lo, hi); others
// are copied. The tensors are seen as rows: outer rows per sample (the
// product of the dimensions before the axis), each input contributing a
// block of width (its size from the axis on).
// ins (N, ..., A_i, ...) -> out (N, ..., sum A_i, ...)
type concatKernel struct {
	it     *Interpreter
	ins    []int
	out    int
	outer  int   // per sample: product of the dimensions before the axis
	widths []int // per input: product of its dimensions from the axis on
	row    int
	same   []bool
	mult   []qmath.Multiplier
	zpIn   []int32
	zpOut  int32
	lo, hi int32
}

func newConcat(it *Interpreter, op *Op) (*concatKernel, error) {
	to := &it.m.Tensors[op.Output]
	lo, hi := outRange(to, op.Activation)
	qlo, qhi := to.QRange()
	ax := len(to.Shape) - 1 - op.AxisFromEnd
	k := &concatKernel{it: it, ins: op.Inputs, out: op.Output, row: to.Shape[ax:].Size(),
		outer: to.Shape[:ax].Size(), zpOut: to.ZeroPoint, lo: lo, hi: hi}
	for _, i := range op.Inputs {
		t := &it.m.Tensors[i]
		k.widths = append(k.widths, t.Shape[ax:].Size())
		same := t.Scale == to.Scale && t.ZeroPoint == to.ZeroPoint && lo == qlo && hi == qhi
		k.same = append(k.same, same)
		m, err := qmath.NewMultiplier(float64(t.Scale) / float64(to.Scale))
		if err != nil {
			return nil, err
		}
		k.mult = append(k.mult, m)
		k.zpIn = append(k.zpIn, t.ZeroPoint)
	}
	return k, nil
}

func (k *concatKernel) alloc(int) {}

func (k *concatKernel) run(n int) {
	y := k.it.i8[k.out]
	off := 0
	for j, idx := range k.ins {
		x, w := k.it.i8[idx], k.widths[j]
		for r := 0; r < n*k.outer; r++ {
			src, dst := x[r*w:(r+1)*w], y[r*k.row+off:][:w]
			if k.same[j] {
				copy(dst, src)
				continue
			}
			for i, v := range src {
				dst[i] = requant(int32(v)-k.zpIn[j], k.mult[j], k.zpOut, k.lo, k.hi)
			}
		}
		off += w
	}
}
