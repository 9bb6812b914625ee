package lite

import "github.com/goqat/goqat/qmath"

// avgPoolKernel is AveragePool2D: the mean of the window's inside cells
// (padding not counted, as Keras), rounded half to even (div; TFLite's
// rounding divides with ties away from zero); scale and zero point are
// kept.
// in (N,H,W,C) -> out (N,OH,OW,C)
type avgPoolKernel struct {
	it      *Interpreter
	in, out int
	g       poolGeom
	acc     []int32
	div     func(sum, count int64) int64
}

func newAvgPool(it *Interpreter, op *Op) *avgPoolKernel {
	g := newPoolGeom(it, op)
	return &avgPoolKernel{it: it, in: op.Inputs[0], out: op.Output, g: g, acc: make([]int32, g.c), div: qmath.DivRoundEven}
}

func (k *avgPoolKernel) alloc(int) {}

func (k *avgPoolKernel) run(n int) {
	g := k.g
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	acc := k.acc
	for b := 0; b < n; b++ {
		for oy := 0; oy < g.oh; oy++ {
			for ox := 0; ox < g.ow; ox++ {
				clear(acc)
				cnt := 0
				for ky := 0; ky < g.kh; ky++ {
					iy := oy*g.sh - g.pt + ky
					if iy < 0 || iy >= g.h {
						continue
					}
					for kx := 0; kx < g.kw; kx++ {
						ix := ox*g.sw - g.pl + kx
						if ix < 0 || ix >= g.w {
							continue
						}
						cnt++
						xr := x[((b*g.h+iy)*g.w+ix)*g.c:][:g.c]
						for c, v := range xr {
							acc[c] += int32(v)
						}
					}
				}
				yr := y[((b*g.oh+oy)*g.ow+ox)*g.c:][:g.c]
				for c, s := range acc {
					yr[c] = int8(k.div(int64(s), int64(max(cnt, 1))))
				}
			}
		}
	}
}
