package lite

import "github.com/goqat/goqat/internal/qkernels"

// gmpKernel is GlobalMaxPool: the maximum over all pixels per channel (the
// order of int8 codes is that of the reals); scale and zero point are
// kept. Channels run in vector lanes (qkernels.MaxRow), images split
// across threads.
// in (N,H,W,C) -> out (N,C)
type gmpKernel struct {
	it      *Interpreter
	in, out int
	hw, c   int
	r       qkernels.Runner
	imgFn   func(part, lo, hi int)
}

func newGlobalMaxPool(it *Interpreter, op *Op) *gmpKernel {
	s := it.m.Tensors[op.Inputs[0]].Shape
	k := &gmpKernel{it: it, in: op.Inputs[0], out: op.Output, hw: s[0] * s[1], c: s[2]}
	k.imgFn = k.images
	k.r.Threads = it.threads
	return k
}

func (k *gmpKernel) alloc(int) {}

func (k *gmpKernel) run(n int) {
	k.r.For(n, max(1, 16384/max(1, k.hw*k.c)), k.imgFn)
}

// images pools images [lo, hi).
func (k *gmpKernel) images(_, lo, hi int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	for b := lo; b < hi; b++ {
		yr := y[b*k.c:][:k.c]
		copy(yr, x[b*k.hw*k.c:][:k.c])
		for p := 1; p < k.hw; p++ {
			qkernels.MaxRow(yr, x[(b*k.hw+p)*k.c:][:k.c])
		}
	}
}
