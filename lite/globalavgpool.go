package lite

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
)

// gapKernel is GlobalAveragePool: the mean over all pixels per channel,
// rounded half to even; scale and zero point are kept. The channel sums
// run in vector lanes (qkernels.MulAddRow against a row of ones), images
// split across threads.
// in (N,H,W,C) -> out (N,C)
type gapKernel struct {
	it      *Interpreter
	in, out int
	hw, c   int
	ones    []int8
	acc     [][]int32 // per part
	r       qkernels.Runner
	imgFn   func(part, lo, hi int)
}

func newGlobalAvgPool(it *Interpreter, op *Op) *gapKernel {
	s := it.m.Tensors[op.Inputs[0]].Shape
	k := &gapKernel{it: it, in: op.Inputs[0], out: op.Output, hw: s[0] * s[1], c: s[2], ones: make([]int8, s[2])}
	for i := range k.ones {
		k.ones[i] = 1
	}
	k.imgFn = k.images
	k.r.Threads = it.threads
	return k
}

// grain is the number of images worth a part of their own.
func (k *gapKernel) grain() int { return max(1, 16384/max(1, k.hw*k.c)) }

func (k *gapKernel) alloc(n int) {
	for len(k.acc) < max(kernels.Threads(), k.r.Parts(n, k.grain())) {
		k.acc = append(k.acc, make([]int32, k.c))
	}
}

func (k *gapKernel) run(n int) {
	k.alloc(n) // no-op unless the thread count grew since Allocate
	k.r.For(n, k.grain(), k.imgFn)
}

// images pools images [lo, hi).
func (k *gapKernel) images(part, lo, hi int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	acc := k.acc[part]
	for b := lo; b < hi; b++ {
		clear(acc)
		for p := 0; p < k.hw; p++ {
			qkernels.MulAddRow(acc, x[(b*k.hw+p)*k.c:], k.ones, 0)
		}
		yr := y[b*k.c:][:k.c]
		for c, s := range acc {
			yr[c] = int8(qmath.DivRoundEven(int64(s), int64(k.hw)))
		}
	}
}
