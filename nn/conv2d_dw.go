package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// Conv2D's kernel gradient piece by piece: dKernel += col^T x dOut over a
// chunk of images, with the col matrix packed and multiplied a cache-sized
// piece of rows at a time instead of the whole chunk (8 MB, out of the
// caches, written then read back), each piece made of whole k chunks of
// the GEMM (kernels.SgemmChunkDepth), so that every element of dKernel
// adds the same partial sums in the same order as the single product: the
// same bits (docs/DESIGN.md, Training kernels). For plain geometries with
// one group whose col rows take the CopyRows path and have at least 16
// columns (narrower products run the row kernels, which do not cut k into
// chunks).

// convPieceFloats bounds the col rows of one piece: 128K floats, 512 KB,
// half a core's L2 cache. A variable so that tests can force small pieces.
var convPieceFloats = 128 << 10

// convPiecePass is what a part of a piece's im2col needs (kernels.ParallelFor
// runs l.pieceFn, a method value bound at Build, so that the calls do not
// allocate): the geometry, the input, the first output row and the buffer.
type convPiecePass struct {
	g   ops.Geom
	in  []float32
	o0  int
	buf []float32
}

// kernelGradPieced reports whether the kernel gradient of g takes the
// piece-by-piece path.
func (l *Conv2D) kernelGradPieced(g ops.Geom) bool {
	return g.Groups() == 1 && convIm2colFast(g) && g.ColCols() >= 16 && convPieceFloats > 0
}

// kernelGradPieces computes dW (K, F) = col^T x d + beta*dW for the col
// rows of images [n0, n1) of x (d their rows of dOut), piece by piece.
func (l *Conv2D) kernelGradPieces(g ops.Geom, x []float32, n0, n1 int, d []float32, beta float32, dW []float32) {
	F, K, P, OW := l.Filters, g.ColCols(), g.OutPixels(), g.OW
	R := (n1 - n0) * P
	dep := kernels.SgemmChunkDepth(F, R)
	qMax := max(1, convPieceFloats/(dep*K))
	for p0 := 0; p0 < R; {
		// The largest piece of whole chunks from p0 (the tail: the last
		// chunks, the final one shorter) that the GEMM cuts as the whole
		// product does; one chunk always is.
		pr := min(dep, R-p0)
		for q := qMax; q > 1; q-- {
			t := min(q*dep, R-p0)
			if t > dep && kernels.SgemmChunkDepth(F, t) == dep {
				pr = t
				break
			}
		}
		// im2col of the output rows that hold col rows [p0, p0+pr).
		g0 := n0*P + p0 // first col row, counted over the whole batch
		o0, o1 := g0/OW, (g0+pr+OW-1)/OW
		l.pc = convPiecePass{g: g, in: x, o0: o0, buf: spatialScratch(l.pieceBuf, (o1-o0)*OW*K)}
		l.pieceBuf = l.pc.buf
		kernels.ParallelFor(o1-o0, max(1, (16<<10)/max(OW*K, 1)), l.pieceFn)
		b := beta
		if p0 > 0 {
			b = 1
		}
		kernels.Sgemm(true, false, K, F, pr, 1, l.pc.buf[(g0-o0*OW)*K:], K, d[p0*F:], F, b, dW, F)
		l.pc = convPiecePass{}
		p0 += pr
	}
}

// im2colPiece writes output rows [o0+lo, o0+hi) of the running piece.
func (l *Conv2D) im2colPiece(lo, hi int) {
	p := &l.pc
	g := p.g
	for r := lo; r < hi; r++ {
		o := p.o0 + r
		convIm2colRow(g, p.in, convOutRow(g, p.buf, r), o/g.OH, o%g.OH)
	}
}
