package lite

// gapKernel is GlobalAveragePool: the mean over all pixels per channel,
// rounded half to even; scale and zero point are kept.
// in (N,H,W,C) -> out (N,C)
type gapKernel struct {
	it      *Interpreter
	in, out int
	hw, c   int
	acc     []int32
}

func newGlobalAvgPool(it *Interpreter, op *Op) *gapKernel {
	s := it.m.Tensors[op.Inputs[0]].Shape
	return &gapKernel{it: it, in: op.Inputs[0], out: op.Output, hw: s[0] * s[1], c: s[2], acc: make([]int32, s[2])}
}

func (k *gapKernel) alloc(int) {}

func (k *gapKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	acc := k.acc
	for b := 0; b < n; b++ {
		clear(acc)
		for p := 0; p < k.hw; p++ {
			xr := x[(b*k.hw+p)*k.c:][:k.c]
			for c, v := range xr {
				acc[c] += int32(v)
			}
		}
		yr := y[b*k.c:][:k.c]
		for c, s := range acc {
			yr[c] = int8(divRoundEven(int64(s), int64(k.hw)))
		}
	}
}
