package lite

import "github.com/goqat/goqat/qmath"

// concatKernel is Concatenation along the last axis. An input whose scale
// and zero point differ from the output's is requantized,
// q = clamp(round((q_in - zp_in) * s_in/s_out) + zp_out, lo, hi); others
// are copied.
// ins (N, ..., C_i) -> out (N, ..., sum C_i)
type concatKernel struct {
	it     *Interpreter
	ins    []int
	out    int
	outer  int   // per sample: product of the dimensions before the axis
	widths []int // per input: last dimension
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
	k := &concatKernel{it: it, ins: op.Inputs, out: op.Output, row: to.Shape[len(to.Shape)-1],
		outer: to.Shape.Size() / to.Shape[len(to.Shape)-1], zpOut: to.ZeroPoint, lo: lo, hi: hi}
	for _, i := range op.Inputs {
		t := &it.m.Tensors[i]
		k.widths = append(k.widths, t.Shape[len(t.Shape)-1])
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
