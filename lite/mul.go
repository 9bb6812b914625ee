package lite

import (
	"fmt"

	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/qmath"
)

// mulKernel is Mul of two inputs, broadcast as nn.Multiply broadcasts
// them (per-sample shapes, leading 1s, dimensions of size 1 repeated):
//
//	q = qmath.Requantize((q1-zp1)*(q2-zp2), s1*s2/s_out, zp_out, lo, hi)
//
// with lo and hi the output's range narrowed by a fused ReLU/ReLU6. The
// product of two offsets fits an int32 (|q-zp| <= 255). A reference loop.
// in1 (N, ...), in2 (N, ...) -> out (N, broadcast shape)
type mulKernel struct {
	it         *Interpreter
	a, b, out  int
	sa, sb, so int     // per-sample sizes
	ia, ib     []int32 // each input's element read by each output element (nil: the identity)
	zpa, zpb   int32
	m          qmath.Multiplier
	zp, lo, hi int32
}

func newMul(it *Interpreter, op *Op) (*mulKernel, error) {
	ta, tb, to := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Inputs[1]], &it.m.Tensors[op.Output]
	m, err := qmath.NewMultiplier(float64(ta.Scale) * float64(tb.Scale) / float64(to.Scale))
	if err != nil {
		return nil, fmt.Errorf("multiplier: %w", err)
	}
	lo, hi := outRange(to, op.Activation)
	return &mulKernel{it: it, a: op.Inputs[0], b: op.Inputs[1], out: op.Output,
		sa: ta.Shape.Size(), sb: tb.Shape.Size(), so: to.Shape.Size(),
		ia: ops.BroadcastIndex(ta.Shape, to.Shape), ib: ops.BroadcastIndex(tb.Shape, to.Shape),
		zpa: ta.ZeroPoint, zpb: tb.ZeroPoint, m: m, zp: to.ZeroPoint, lo: lo, hi: hi}, nil
}

func (k *mulKernel) alloc(int) {}

func (k *mulKernel) run(n int) {
	for s := 0; s < n; s++ {
		xa, xb := k.it.i8[k.a][s*k.sa:(s+1)*k.sa], k.it.i8[k.b][s*k.sb:(s+1)*k.sb]
		y := k.it.i8[k.out][s*k.so : (s+1)*k.so]
		for j := range y {
			ja, jb := j, j
			if k.ia != nil {
				ja = int(k.ia[j])
			}
			if k.ib != nil {
				jb = int(k.ib[j])
			}
			acc := (int32(xa[ja]) - k.zpa) * (int32(xb[jb]) - k.zpb)
			y[j] = int8(qmath.Requantize(acc, k.m, k.zp, k.lo, k.hi))
		}
	}
}
