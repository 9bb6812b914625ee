package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// Conv2D's col2im: ops.Col2im's values (each input pixel's gradient the
// sum from +0 of its taps in (kh, kw) order), with the pixels of a row
// (of one residue modulo the stride) whose every tap is inside the output
// summed by one kernels.SumTapsRun call (their taps move by one col row
// per pixel) instead of one tap list and SumTaps call per pixel (docs/DESIGN.md,
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

// convCol2imRow gathers input row ih of image n. The pixels iw = r +
// j*SW of one residue r read the taps kw = r+PadL (mod SW), from output
// column ow = (iw+PadL-kw)/SW, which moves by one per step of j: those
// whose taps are all inside the output form one run of j, gathered by one
// SumTapsRun; the others go pixel by pixel (runs of one: SumTaps' values,
// without its shared call counter, which the threads contended for).
func convCol2imRow(g ops.Geom, col, dIn []float32, n0, n, ih int, taps []int) {
	C, W, SW := g.C, g.W, g.SW
	dst := dIn[((n*g.H)+ih)*W*C : ((n*g.H)+ih+1)*W*C]
	for r := 0; r < min(SW, W); r++ {
		// The smallest and largest kw of residue r.
		kmin, kmax := -1, -1
		for kw := 0; kw < g.KW; kw++ {
			if (r+g.PadL-kw)%SW == 0 {
				if kmin < 0 {
					kmin = kw
				}
				kmax = kw
			}
		}
		// Pixels [a, b] have every tap's ow in [0, OW) (all of them if
		// no kw reads this residue: each pixel's gradient is 0).
		a, b := 0, W-1
		if kmin >= 0 {
			a, b = max(0, kmax-g.PadL), min(W-1, (g.OW-1)*SW+kmin-g.PadL)
		}
		jlo, jhi := 0, 0 // the run: j in [jlo, jhi)
		if b >= a && b >= r {
			jlo = max(0, (a-r+SW-1)/SW)
			jhi = max(jlo, (b-r)/SW+1)
		}
		nj := (W - r + SW - 1) / SW
		for j := 0; j < nj; j++ {
			if j == jlo && jhi > jlo {
				iw := r + jlo*SW
				kernels.SumTapsRun(dst[iw*C:], col, g.Col2imTaps(n0, n, ih, iw, taps), C, jhi-jlo, SW*C, g.ColCols())
				j = jhi - 1
				continue
			}
			iw := r + j*SW
			kernels.SumTapsRun(dst[iw*C:(iw+1)*C], col, g.Col2imTaps(n0, n, ih, iw, taps), C, 1, C, 0)
		}
	}
}
