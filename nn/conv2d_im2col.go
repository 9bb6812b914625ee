package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// Conv2D's im2col: ops.Im2col's values, with the interior of every output
// row copied by one kernels.CopyRows call per kernel row (kh) instead of
// one copy per output pixel, which for the few-channel layers of small
// networks (resnet20's 16 channels: 48-float slices) spent more time in
// calls than in copying (docs/DESIGN.md, Training kernels). Geometries
// that are not plain (dilation, groups) or whose kernel-row slices are
// short go to ops.

// convIm2colFast reports whether g takes the CopyRows path.
func convIm2colFast(g ops.Geom) bool { return g.Plain() && g.KW*g.C >= 16 }

// convIm2colSerial is ops.Im2colSerial (the same values) on the calling
// goroutine: the col rows of images [n0, n1).
func convIm2colSerial(g ops.Geom, in, col []float32, n0, n1 int) {
	if !convIm2colFast(g) {
		ops.Im2colSerial(g, in, col, n0, n1)
		return
	}
	for r := 0; r < (n1-n0)*g.OH; r++ {
		convIm2colRow(g, in, convOutRow(g, col, r), n0+r/g.OH, r%g.OH)
	}
}

// convOutRow returns the OW col rows of output row r (counted from the
// start of col).
func convOutRow(g ops.Geom, col []float32, r int) []float32 {
	k := g.OW * g.ColCols()
	return col[r*k : (r+1)*k]
}

// convIm2col is ops.Im2col (the same values): the output rows split
// across threads.
func convIm2col(g ops.Geom, in, col []float32, n0, n1 int) {
	if !convIm2colFast(g) {
		ops.Im2col(g, in, col, n0, n1)
		return
	}
	grain := max(1, (16<<10)/max(g.OW*g.ColCols(), 1))
	kernels.ParallelFor((n1-n0)*g.OH, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			convIm2colRow(g, in, convOutRow(g, col, r), n0+r/g.OH, r%g.OH)
		}
	})
}

// convIm2colRow writes to rows the OW col rows of output row oh of image
// n (a plain geometry): per kernel row kh, the slices of KW*C values of the
// output columns whose window lies inside the image in one CopyRows call,
// the columns at the left and right edges tap by tap, zeros for taps in
// the padding.
func convIm2colRow(g ops.Geom, in, rows []float32, n, oh int) {
	C, KW, W, OW := g.C, g.KW, g.W, g.OW
	K := g.ColCols()
	seg := KW * C
	img := in[n*g.H*W*C : (n+1)*g.H*W*C]
	// Output columns [lo, hi) have iw0 = ow*SW-PadL >= 0 and iw0+KW <= W.
	lo := min((g.PadL+g.SW-1)/g.SW, OW)
	hi := lo
	if e := W - KW + g.PadL; e >= 0 {
		hi = max(lo, min(e/g.SW+1, OW))
	}
	for kh := 0; kh < g.KH; kh++ {
		ih := oh*g.SH - g.PadT + kh
		if ih < 0 || ih >= g.H {
			for ow := 0; ow < OW; ow++ {
				clear(rows[ow*K+kh*seg : ow*K+(kh+1)*seg])
			}
			continue
		}
		src := img[ih*W*C : (ih+1)*W*C]
		for ow := 0; ow < lo; ow++ {
			convIm2colEdge(g, rows[ow*K+kh*seg:ow*K+(kh+1)*seg], src, ow)
		}
		if hi > lo {
			so := (lo*g.SW - g.PadL) * C
			kernels.CopyRows(rows[lo*K+kh*seg:], src[so:], hi-lo, seg, K, g.SW*C)
		}
		for ow := hi; ow < OW; ow++ {
			convIm2colEdge(g, rows[ow*K+kh*seg:ow*K+(kh+1)*seg], src, ow)
		}
	}
}

// convIm2colEdge writes the kernel-row slice d (KW*C values) of output
// column ow, whose window reaches into the left or right padding; src is
// the input row. The taps inside the image are consecutive input pixels:
// zeros, one copy of them, zeros.
func convIm2colEdge(g ops.Geom, d, src []float32, ow int) {
	C := g.C
	iw0 := ow*g.SW - g.PadL
	k0 := min(max(0, -iw0), g.KW)     // first tap inside the image
	k1 := max(k0, min(g.KW, g.W-iw0)) // past the last
	clear(d[:k0*C])
	if k1 > k0 {
		copy(d[k0*C:k1*C], src[(iw0+k0)*C:(iw0+k1)*C])
	}
	clear(d[k1*C:])
}
