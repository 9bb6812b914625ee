package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// Conv2D's col2im: ops.Col2im's values (each input pixel's gradient the
// sum from +0 of its taps in (kh, kw) order), with the pixels of a
// stride-1 row whose every tap is inside the output summed by one
// kernels.SumTapsRun call (their taps move by one col row per pixel)
// instead of one tap list and SumTaps call per pixel (docs/DESIGN.md,
// Training kernels). Geometries that are not plain, have fewer than 8
// channels or more than 64 taps go to ops.

// convCol2imFast reports whether g takes the SumTapsRun path.
func convCol2imFast(g ops.Geom) bool { return g.Plain() && g.C >= 8 && g.KH*g.KW <= 64 }

// convCol2imSerial is ops.Col2imSerial (the same values): images [n0, n1)
// of dIn from their col rows.
func convCol2imSerial(g ops.Geom, col, dIn []float32, n0, n1 int) {
	if !convCol2imFast(g) {
		ops.Col2imSerial(g, col, dIn, n0, n1)
		return
	}
	var taps [64]int
	for r := 0; r < (n1-n0)*g.H; r++ {
		convCol2imRow(g, col, dIn, n0, n0+r/g.H, r%g.H, taps[:])
	}
}

// convCol2im is ops.Col2im (the same values): the input rows split across
// threads.
func convCol2im(g ops.Geom, col, dIn []float32, n0, n1 int) {
	if !convCol2imFast(g) {
		ops.Col2im(g, col, dIn, n0, n1)
		return
	}
	work := g.W * g.C * max(1, g.KH*g.KW/(g.SH*g.SW))
	kernels.ParallelFor((n1-n0)*g.H, max(1, (16<<10)/max(work, 1)), func(lo, hi int) {
		var taps [64]int
		for r := lo; r < hi; r++ {
			convCol2imRow(g, col, dIn, n0, n0+r/g.H, r%g.H, taps[:])
		}
	})
}

// convCol2imRow gathers input row ih of image n: with stride 1 the
// pixels [lo, hi) whose KW taps of every kernel row are all inside the
// output in one SumTapsRun, the others pixel by pixel.
func convCol2imRow(g ops.Geom, col, dIn []float32, n0, n, ih int, taps []int) {
	C, W := g.C, g.W
	dst := dIn[((n*g.H)+ih)*W*C : ((n*g.H)+ih+1)*W*C]
	lo, hi := W, W
	if g.SW == 1 {
		// ow = iw+PadL-kw in [0, OW) for every kw.
		lo = min(max(0, g.KW-1-g.PadL), W)
		hi = max(lo, min(W, g.OW-g.PadL))
	}
	for iw := 0; iw < lo; iw++ {
		kernels.SumTaps(dst[iw*C:(iw+1)*C], col, convCol2imTaps(g, n0, n, ih, iw, taps))
	}
	if hi > lo {
		kernels.SumTapsRun(dst[lo*C:], col, convCol2imTaps(g, n0, n, ih, lo, taps), C, hi-lo, C, g.ColCols())
	}
	for iw := hi; iw < W; iw++ {
		kernels.SumTaps(dst[iw*C:(iw+1)*C], col, convCol2imTaps(g, n0, n, ih, iw, taps))
	}
}

// convCol2imTaps lists in taps, in (kh, kw) order, the col offsets of the
// taps that read input pixel (ih, iw) of image n, and returns them.
func convCol2imTaps(g ops.Geom, n0, n, ih, iw int, taps []int) []int {
	C, KW := g.C, g.KW
	K := g.ColCols()
	nt := 0
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh
		if num < 0 || (g.SH > 1 && num%g.SH != 0) {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		rowBase := ((n-n0)*g.OH + oh) * g.OW
		for kw := 0; kw < KW; kw++ {
			num := iw + g.PadL - kw
			if num < 0 || (g.SW > 1 && num%g.SW != 0) {
				continue
			}
			ow := num / g.SW
			if ow >= g.OW {
				continue
			}
			taps[nt] = (rowBase+ow)*K + (kh*KW+kw)*C
			nt++
		}
	}
	return taps[:nt]
}
