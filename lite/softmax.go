package lite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/qmath"
)

// softmaxKernel is Softmax over the last axis with int8 output of fixed
// scale 1/256 and zero point -128. With d = max - q (0..255 in input
// steps), exp(-s_in*d) comes from a table of integers scaled by 2^30, and
//
//	q_out = clamp(round_half_even(256 * e[d] / sum e) - 128, -128, 127)
//
// in integer arithmetic.
// in (N, ..., C) -> out (N, ..., C)
type softmaxKernel struct {
	it      *Interpreter
	in, out int
	rows, c int
	exp     [256]int64
	zp      int64
}

func newSoftmax(it *Interpreter, op *Op) (*softmaxKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	if tout.Scale != 1.0/256 || tout.ZeroPoint != -128 || tout.Bits != 8 {
		return nil, fmt.Errorf("softmax output must be 8-bit with scale 1/256 and zero point -128, got %v, %d", tout.Scale, tout.ZeroPoint)
	}
	s := tin.Shape
	k := &softmaxKernel{it: it, in: op.Inputs[0], out: op.Output, c: s[len(s)-1], zp: int64(tout.ZeroPoint)}
	k.rows = s.Size() / k.c
	for d := range k.exp {
		k.exp[d] = int64(math.Round(math.Exp(-float64(tin.Scale)*float64(d)) * (1 << 30)))
	}
	return k, nil
}

func (k *softmaxKernel) alloc(int) {}

func (k *softmaxKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	for r := 0; r < n*k.rows; r++ {
		xr, yr := x[r*k.c:(r+1)*k.c], y[r*k.c:(r+1)*k.c]
		m := int8(-128)
		for _, v := range xr {
			m = max(m, v)
		}
		sum := int64(0)
		for _, v := range xr {
			sum += k.exp[int(m)-int(v)]
		}
		for i, v := range xr {
			q := qmath.DivRoundEven(256*k.exp[int(m)-int(v)], sum) + k.zp
			yr[i] = int8(min(max(q, -128), 127))
		}
	}
}
