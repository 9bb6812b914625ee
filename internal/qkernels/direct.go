package qkernels

import (
	"fmt"

	"github.com/goqat/goqat/internal/workers"
)

// Direct is the activation source of an implicit GEMM (docs/DESIGN.md,
// Runtime and kernels): the rows of A are never copied into an im2col tile but
// read in place from Src, an image already in the kernels' uint8 form
// (XOR 0x80) with its padding. A row is Segs segments of K/Segs bytes
// (one window row of a convolution: KW taps of C channels, K/Segs a
// multiple of 4), segment s at SegStep*s bytes from the row's start; the
// MR rows of a tile start Lda bytes apart (the stride times C: output
// pixels next to each other in a row). Tile(t, outs) returns the offset in
// Src of tile t's first row and sets outs[r] to the offset in out of row
// r's N results, or to -1 for a row whose results are discarded (a
// position past the image's last output, or between two output rows).
type Direct struct {
	Src     []uint8
	Lda     int
	Segs    int
	SegStep int
	Tile    func(t int, outs *[MR]int) int
}

// Fused reports whether RunDirect computes on the fused VNNI kernel
// (weights packed for VNNI, every output column in the rqFast stage) for
// rows of segs segments: otherwise it gathers each tile's rows into a
// buffer and runs the portable tile, exact but no faster than Run.
func (g *Gemm) Fused(segs int) bool {
	return g.w.path == VNNI && g.o.allFast && segs >= 1 && g.w.k%segs == 0 && (g.w.k/segs)%4 == 0
}

// RunDirect computes tiles tiles of rows from d (see Direct) into out:
// for each row r of tile t with outs[r] >= 0,
//
//	out[outs[r]+j] = Output(offset[j] + sum_k a'[k]*w[k][j])   j < N
//
// where a' is the row's K bytes. Tiles are split across threads as Run
// splits them; the result does not depend on the thread count. It returns
// an error when the segments do not divide K into multiples of 4, and
// panics (a programming error) when a tile reads past Src or writes past
// out.
func (g *Gemm) RunDirect(d *Direct, tiles int, out []int8) error {
	if d.Segs < 1 || g.w.k%d.Segs != 0 || (g.w.k/d.Segs)%4 != 0 {
		return fmt.Errorf("qkernels: RunDirect: %d segments do not split K=%d into multiples of 4", d.Segs, g.w.k)
	}
	if tiles <= 0 {
		return nil
	}
	g.dir, g.out = d, out
	grain := max(1, (1<<16)/max(1, MR*g.w.kq*4*g.w.n))
	parts := workers.Parts(g.threads, tiles, grain)
	for len(g.outs) < parts {
		g.outs = append(g.outs, new([MR]int))
	}
	if !g.Fused(d.Segs) {
		for len(g.abuf) < parts {
			g.abuf = append(g.abuf, make([]uint8, MR*RowStride(g.w.k)+FillSlack))
		}
	}
	workers.For(parts, tiles, grain, g.directFn, &g.parts)
	g.dir, g.out = nil, nil
	return nil
}

// directTiles computes tiles [t0, t1) of the current RunDirect: on the
// fused kernel panel block by panel block (gemmBlockBytes of weights),
// every tile inside a block, as Gemm.tiles does.
func (g *Gemm) directTiles(part, t0, t1 int) {
	outs := g.outs[part] // kept by the Gemm: Tile's argument escapes
	d, w, o := g.dir, g.w, g.o
	segLen := w.k / d.Segs
	fused := g.Fused(d.Segs)
	reach := (MR-1)*d.Lda + (d.Segs-1)*d.SegStep + segLen // bytes a tile reads from its first row
	tile := func(t int) int {
		off := d.Tile(t, outs)
		if off < 0 || off+reach > len(d.Src) {
			panic(fmt.Sprintf("qkernels: RunDirect: tile %d reads [%d, %d) of %d bytes", t, off, off+reach, len(d.Src)))
		}
		for _, q := range outs {
			if q >= 0 && q+w.n > len(g.out) {
				panic(fmt.Sprintf("qkernels: RunDirect: tile %d writes at %d of %d values", t, q, len(g.out)))
			}
		}
		return off
	}
	post := func() {
		if g.post == nil {
			return
		}
		// Rows whose outputs follow one another make one call.
		start, end := -1, -1
		for _, q := range outs {
			if q < 0 {
				continue
			}
			if q != end {
				if start >= 0 {
					g.post(start, end-start)
				}
				start = q
			}
			end = q + w.n
		}
		if start >= 0 {
			g.post(start, end-start)
		}
	}
	if !fused {
		for t := t0; t < t1; t++ {
			g.directPortable(part, tile(t), outs, segLen)
			post()
		}
		return
	}
	blk := max(1, gemmBlockBytes/(w.kq*128))
	for pb := 0; pb < w.panels; pb += blk {
		for t := t0; t < t1; t++ {
			off := tile(t)
			for pn := pb; pn < min(pb+blk, w.panels); pn++ {
				n0 := pn * w.nr
				cols := min(w.nr, w.n-n0)
				p0, p1, _, h0 := o.fastPair(n0, cols)
				// Direct calls (a function value would go through a wrapper
				// each time: measurable on short products).
				src, b, segq, skip, lo, hi, out := &d.Src[off], &w.b8[pn*w.kq*128], segLen/4, d.SegStep-segLen, int64(o.lo), int64(o.hi), &g.out[n0]
				switch full := o.lo == -128 && o.hi == 127; {
				case h0 && full:
					dotRqVNNIDirect12x32H0F(src, d.Lda, b, segq, d.Segs, skip, p0, p1, lo, hi, outs, out, cols)
				case h0:
					dotRqVNNIDirect12x32H0(src, d.Lda, b, segq, d.Segs, skip, p0, p1, lo, hi, outs, out, cols)
				case full:
					dotRqVNNIDirect12x32F(src, d.Lda, b, segq, d.Segs, skip, p0, p1, lo, hi, outs, out, cols)
				default:
					dotRqVNNIDirect12x32(src, d.Lda, b, segq, d.Segs, skip, p0, p1, lo, hi, outs, out, cols)
				}
			}
			if pb+blk >= w.panels { // the tile's last block
				post()
			}
		}
	}
}

// directPortable is one tile of RunDirect on any path: its rows gathered
// into part's buffer, the path's tile of dot products, the scalar output
// stage.
func (g *Gemm) directPortable(part, off int, outs *[MR]int, segLen int) {
	var tile [MR * 32]int32
	d, w, o := g.dir, g.w, g.o
	lda := RowStride(w.k)
	a := g.abuf[part]
	for r := 0; r < MR; r++ {
		for s := 0; s < d.Segs; s++ {
			src := off + r*d.Lda + s*d.SegStep
			copy(a[r*lda+s*segLen:r*lda+(s+1)*segLen], d.Src[src:src+segLen])
		}
	}
	for pn := 0; pn < w.panels; pn++ {
		n0 := pn * w.nr
		cols := min(w.nr, w.n-n0)
		switch w.path {
		case VNNI:
			dotVNNI12x32(&a[0], lda, &w.b8[pn*w.kq*128], w.kq, &tile[0])
		case AVX2:
			b := &w.b16[pn*w.kq*64]
			for r := 0; r < MR; r += 4 {
				dotAVX2x4x16(&a[r*lda], lda, b, w.kq, &tile[r*16])
			}
		default:
			dotGeneric(a, lda, w.b8[pn*w.kq*128:(pn+1)*w.kq*128], w.kq, &tile)
		}
		for r, q := range outs {
			if q < 0 {
				continue
			}
			row := tile[r*w.nr : r*w.nr+cols]
			dst := g.out[q+n0 : q+n0+cols]
			for j, v := range row {
				dst[j] = o.finish(n0+j, v)
			}
		}
	}
}
