package qkernels

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/goqat/goqat/internal/workers"
)

// Gemm is one prepared product with its output stage: Run computes
//
//	out[i*ldo+j] = Output(offset[j] + sum_k a'[i][k]*w[k][j])
//
// for i < m and j < N, where a' are uint8 activation rows (int8 XOR 0x80)
// that a fill function writes one tile of MR rows at a time, into a
// buffer that stays in L1 while the tile's panels are computed: an
// im2col row source is packed as it is consumed, by the thread that
// consumes it. Tiles are split across threads, each output computed by
// one thread: the result does not depend on the thread count. A Gemm is
// not safe for concurrent Run calls.
type Gemm struct {
	w       *Weights
	o       *Output
	parts   workers.Group
	abuf    [][]uint8 // per part: MR rows of RowStride(K), then FillSlack bytes
	threads int       // the parts' cap, 0 for workers.N()
	split   int       // the current Run's panel ranges per row tile
	post    func(off, n int)

	// operands of the current Run
	fill   func(dst []uint8, i0, n int)
	m      int
	out    []int8
	ldo    int
	tileFn workers.Func

	// operands of the current RunDirect (direct.go)
	dir      *Direct
	directFn workers.Func
	outs     []*[MR]int // per part: the output offsets of a tile
}

// NewGemm pairs packed weights with their output stage.
func NewGemm(w *Weights, o *Output) (*Gemm, error) {
	if w == nil || o == nil || o.n != w.n {
		return nil, fmt.Errorf("qkernels: output stage does not match the weights")
	}
	g := &Gemm{w: w, o: o}
	g.tileFn, g.directFn = g.tiles, g.directTiles
	return g, nil
}

// SetPost sets a function that Run and RunDirect call once the outputs
// out[off:off+n] are final (a row's columns, or the part of them one
// thread computes), on the thread that wrote them, before moving on, while
// they are in its cache: the ranges of one call are disjoint and cover
// every output. A fused element-wise op (a residual Add after a
// convolution) runs there. nil removes it.
func (g *Gemm) SetPost(f func(off, n int)) { g.post = f }

// SetThreads caps the threads Run uses (0: workers.N(); 1 for a
// product that already runs on a worker).
func (g *Gemm) SetThreads(n int) { g.threads = max(0, n) }

// Output returns the output stage.
func (g *Gemm) Output() *Output { return g.o }

// Weights returns the packed weights.
func (g *Gemm) Weights() *Weights { return g.w }

// FillSlack is the number of bytes a fill function may write past the end
// of its n rows: len(dst) >= n*RowStride(K) + FillSlack, so that short
// segments can be moved a vector at a time.
const FillSlack = CopySlack

// CopySlack bounds how far CopyWindows may read past a segment of its
// source and write past a row: a source needs that many bytes after its
// last window.
const CopySlack = 32

// Run computes m rows (see Gemm). fill(dst, i0, n) must write rows
// [i0, i0+n), n <= MR, into dst: row r at dst[r*RowStride(K):], its first
// K bytes XOR 0x80 (PackRow does it for a plain int8 row). The bytes from
// K to RowStride(K) of a row, and the FillSlack bytes after the last row,
// are free: their values do not change the result (they meet zero
// weights or are never read), so a fill may write rows in order with
// moves that overrun into the next row. out must hold (m-1)*ldo+N values;
// ldo >= N.
func (g *Gemm) Run(fill func(dst []uint8, i0, n int), m int, out []int8, ldo int) error {
	if m < 0 || ldo < g.w.n || (m > 0 && len(out) < (m-1)*ldo+g.w.n) {
		return fmt.Errorf("qkernels: Run(m=%d, ldo=%d): output of %d values too short", m, ldo, len(out))
	}
	g.fill, g.m, g.out, g.ldo = fill, m, out, ldo
	tiles := (m + MR - 1) / MR
	// Few row tiles (a late layer, a batch of one) split the panels
	// instead, so that every thread gets work: a unit is a range of
	// panels over every tile, the tiles filled by each thread.
	g.split = 1
	units, unitMACs := tiles, MR*g.w.kq*4*g.w.n
	if t := g.threadCap(); t > 1 && tiles < 4*t && g.w.panels > 1 {
		g.split = min(g.w.panels, 4*t)
		units, unitMACs = g.split, tiles*unitMACs/g.split
	}
	// About 64K multiply-adds make a part worth handing to another thread.
	grain := max(1, (1<<16)/max(1, unitMACs))
	parts := workers.Parts(g.threads, units, grain)
	for len(g.abuf) < parts {
		g.abuf = append(g.abuf, make([]uint8, MR*RowStride(g.w.k)+FillSlack))
	}
	workers.For(parts, units, grain, g.tileFn, &g.parts) // at most parts, whatever N() is now
	g.fill, g.out = nil, nil
	return nil
}

// threadCap is the most threads Run may use now.
func (g *Gemm) threadCap() int {
	if g.threads > 0 {
		return g.threads
	}
	return workers.N()
}

// gemmBlockBytes is the most packed weights a part computes on before it
// moves to the next row tile: a block of panels that stays in the core's
// L2 cache while every row tile of the part passes over it (the tiles are
// filled again for each block), instead of streaming all the weights from
// the shared cache once per tile.
const gemmBlockBytes = 512 << 10

// tiles computes units [u0, u1) with part's activation buffer: with one
// unit per row tile (split 1), those tiles over every panel; with few
// tiles (split > 1) a unit is a range of panels, [c*P/split,
// (c+1)*P/split) for unit c, over every tile. Either way the part walks
// its panels in blocks of gemmBlockBytes, its tiles inside each block.
func (g *Gemm) tiles(part, u0, u1 int) {
	var tile [MR * 32]int32
	w := g.w
	lda := RowStride(w.k)
	a := g.abuf[part]
	t0, t1, p0, p1 := u0, u1, 0, w.panels
	if g.split > 1 {
		t0, t1, p0, p1 = 0, (g.m+MR-1)/MR, u0*w.panels/g.split, u1*w.panels/g.split
	}
	blk := max(1, gemmBlockBytes/(w.kq*128))
	c0, c1 := p0*w.nr, min(p1*w.nr, w.n) // the part's columns
	filled := -1
	for pb := p0; pb < p1; pb += blk {
		for t := t0; t < t1; t++ {
			i0 := t * MR
			rows := min(MR, g.m-i0)
			if t != filled {
				g.fill(a, i0, rows)
				filled = t
			}
			for pn := pb; pn < min(pb+blk, p1); pn++ {
				g.panel(a, lda, i0, rows, pn, &tile)
			}
			if g.post != nil && pb+blk >= p1 { // the tile's last block
				if c1-c0 == g.ldo { // whole rows, one after the other: one call
					g.post(i0*g.ldo, rows*g.ldo)
					continue
				}
				for r := 0; r < rows; r++ {
					g.post((i0+r)*g.ldo+c0, c1-c0)
				}
			}
		}
	}
}

// panel computes panel pn of the row tile at i0 (rows of a, stride lda)
// and writes its outputs; tile is scratch for the int32 accumulators.
func (g *Gemm) panel(a []uint8, lda, i0, rows, pn int, tile *[MR * 32]int32) {
	w, o := g.w, g.o
	n0 := pn * w.nr
	cols := min(w.nr, w.n-n0)
	switch w.path {
	case VNNI:
		if p0, p1, ok, h0 := o.fastPair(n0, cols); ok {
			// Requantized in registers: no int32 tile.
			b, out := &w.b8[pn*w.kq*128], &g.out[i0*g.ldo+n0]
			full := o.lo == -128 && o.hi == 127 // the narrowing saturates: no clamp
			lo, hi, ldo := int64(o.lo), int64(o.hi), g.ldo
			switch {
			case rows <= 4 && h0 && full: // a remainder tile: a third of the products
				dotRqVNNI4x32H0F(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case rows <= 4 && h0:
				dotRqVNNI4x32H0(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case rows <= 4 && full:
				dotRqVNNI4x32F(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case rows <= 4:
				dotRqVNNI4x32(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case cols <= 16 && h0 && full:
				dotRqVNNI12x16H0F(&a[0], lda, b, w.kq, p0, lo, hi, out, ldo, rows, cols)
			case cols <= 16 && h0:
				dotRqVNNI12x16H0(&a[0], lda, b, w.kq, p0, lo, hi, out, ldo, rows, cols)
			case cols <= 16 && full:
				dotRqVNNI12x16F(&a[0], lda, b, w.kq, p0, lo, hi, out, ldo, rows, cols)
			case cols <= 16:
				dotRqVNNI12x16(&a[0], lda, b, w.kq, p0, lo, hi, out, ldo, rows, cols)
			case h0 && full:
				dotRqVNNI12x32H0F(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case h0:
				dotRqVNNI12x32H0(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			case full:
				dotRqVNNI12x32F(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			default:
				dotRqVNNI12x32(&a[0], lda, b, w.kq, p0, p1, lo, hi, out, ldo, rows, cols)
			}
			return
		}
		dotVNNI12x32(&a[0], lda, &w.b8[pn*w.kq*128], w.kq, &tile[0])
	case AVX2:
		b := &w.b16[pn*w.kq*64]
		for r := 0; r < MR; r += 4 {
			dotAVX2x4x16(&a[r*lda], lda, b, w.kq, &tile[r*16])
		}
	default:
		dotGeneric(a, lda, w.b8[pn*w.kq*128:(pn+1)*w.kq*128], w.kq, tile)
	}
	out := g.out[i0*g.ldo+n0:]
	j := 0
	switch {
	case w.path == VNNI && o.vec:
		for ; j < cols; j += 16 {
			requantVNNI16(&tile[j], 32, rows, &o.groups[(n0+j)/16], int64(o.zp), int64(o.lo), int64(o.hi), &out[j], g.ldo, min(16, cols-j))
		}
	case w.path == AVX2 && o.vec2:
		for ; j+8 <= cols; j += 8 {
			requantAVX2x8(&tile[j], 16, rows, &o.groups8[(n0+j)/8], int64(o.zp), int64(o.lo), int64(o.hi), &out[j], g.ldo)
		}
	}
	for i := 0; i < rows; i++ {
		row := tile[i*w.nr : i*w.nr+cols]
		orow := out[i*g.ldo : i*g.ldo+cols]
		for jj := j; jj < cols; jj++ {
			orow[jj] = o.finish(n0+jj, row[jj])
		}
	}
}

// PackRow writes the int8 row src into dst as the kernels read it: each
// byte XOR 0x80 (a + 128 as uint8). dst must be at least as long as src.
func PackRow(dst []uint8, src []int8) {
	n := len(src)
	if n == 0 {
		return
	}
	dst = dst[:n]
	i := 0
	if hasAVX2 && n >= 32 {
		i = n &^ 31
		xorRow32(&dst[0], &src[0], i)
	}
	s := unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), n)
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(s[i:])^0x8080808080808080)
	}
	for ; i < n; i++ {
		dst[i] = s[i] ^ 0x80
	}
}

// CopyWindows writes len(offs) im2col rows into dst (row r at r*lda) from
// src, a padded copy of an image already in the kernels' uint8 form: row r
// is kh segments of seg bytes, segment ky read at src[offs[r]+ky*rowStep].
// It moves whole blocks (with AVX2 16 bytes for segments up to 16, else
// 32; 8 without), in order, so it may write up to CopySlack-1 bytes past a
// row's last segment (into the next row, rewritten next, or the row
// padding and FillSlack that Gemm ignores) and read as far past a
// segment; it panics if src or dst is too short for that.
func CopyWindows(dst []uint8, lda int, src []uint8, offs []int, kh, seg, rowStep int) {
	n := len(offs)
	if n == 0 || kh <= 0 || seg <= 0 {
		return
	}
	move := copyMove(seg)
	words := (seg + move - 1) / move * move
	_ = dst[(n-1)*lda+(kh-1)*seg+words-1]
	last := 0
	for _, o := range offs {
		if o < 0 {
			panic("qkernels: CopyWindows: negative offset")
		}
		last = max(last, o)
	}
	_ = src[last+(kh-1)*rowStep+words-1]
	if hasAVX2 { // the plain-move assembly is built with the SIMD paths
		copyWindows(&dst[0], lda, &src[0], &offs[0], n, kh, seg, rowStep)
		return
	}
	for r, o := range offs {
		for ky := 0; ky < kh; ky++ {
			d, s := r*lda+ky*seg, o+ky*rowStep
			for j := 0; j < seg; j += 8 {
				copy(dst[d+j:d+j+8], src[s+j:s+j+8])
			}
		}
	}
}

// copyMove is the bytes of one move of CopyWindows for segments of seg
// bytes.
func copyMove(seg int) int {
	switch {
	case !hasAVX2:
		return 8
	case seg <= 16:
		return 16
	}
	return 32
}

// FillRows returns a fill function for Gemm.Run reading plain int8 rows
// of k values from a (row i at a[i*k:]). It allocates a closure: build it
// once and keep it, and point it at new data through the returned setter.
func FillRows(k int) (fill func(dst []uint8, i0, n int), set func(a []int8)) {
	var src []int8
	lda := RowStride(k)
	fill = func(dst []uint8, i0, n int) {
		for r := 0; r < n; r++ {
			PackRow(dst[r*lda:], src[(i0+r)*k:(i0+r+1)*k])
		}
	}
	return fill, func(a []int8) { src = a }
}

// dotGeneric is the pure-Go tile: MR rows by a 32-column panel packed
// column by column (b[j*kp+k] = w[k][j], kp = 4*kq), c[i*32+j] =
// sum_k a[i*lda+k]*w[k][j], four columns at a time.
func dotGeneric(a []uint8, lda int, b []int8, kq int, c *[MR * 32]int32) {
	kp := 4 * kq
	for i := 0; i < MR; i++ {
		row := a[i*lda : i*lda+kp]
		for j := 0; j < 32; j += 4 {
			b0 := b[j*kp : (j+1)*kp]
			b1 := b[(j+1)*kp : (j+2)*kp]
			b2 := b[(j+2)*kp : (j+3)*kp]
			b3 := b[(j+3)*kp : (j+4)*kp]
			b0, b1, b2, b3 = b0[:len(row)], b1[:len(row)], b2[:len(row)], b3[:len(row)]
			var s0, s1, s2, s3 int32
			for p, av := range row {
				x := int32(av)
				s0 += x * int32(b0[p])
				s1 += x * int32(b1[p])
				s2 += x * int32(b2[p])
				s3 += x * int32(b3[p])
			}
			c[i*32+j], c[i*32+j+1], c[i*32+j+2], c[i*32+j+3] = s0, s1, s2, s3
		}
	}
}

// PackSegments writes count segments of n int8 values, segment c read from
// src[c*stride:], one after the other into dst as the kernels read them
// (XOR 0x80): the rows of an image window, in one call.
func PackSegments(dst []uint8, src []int8, n, stride, count int) {
	if n <= 0 || count <= 0 {
		return
	}
	_ = dst[count*n-1]
	_ = src[(count-1)*stride+n-1]
	if ActivePath() == VNNI {
		xorSegs512(&dst[0], &src[0], n, stride, count)
		return
	}
	for c := 0; c < count; c++ {
		PackRow(dst[c*n:], src[c*stride:c*stride+n])
	}
}
