package kernels

import (
	"fmt"
	"sync/atomic"
)

// inPlaceCalls counts the products that read B in place (the test fails
// if the AVX512 path never did).
var inPlaceCalls atomic.Int64

// A product with a B that is prepared once and used by many calls: the
// weights of a layer multiplied by blocks of rows of its input, each block
// small enough to stay in the cache from the pass that writes it (im2col)
// through the product to the pass that reads the output (bias, batch
// normalization, activation). Sgemm packs B on every call, and once per
// thread; PackedB packs it once, in parts that threads can share, and
// SgemmPacked multiplies with it. On the AVX512 path a B that is not
// transposed (and whose row stride does not make its rows collide in the
// L1 cache) is not packed at all: the tile kernel reads its full 32-column
// micro-panels in place, a row every ldb floats (the weights are then read
// once per block of rows instead of copied first), and only a last partial
// panel is packed. The tiles, k chunks and FMAs are Sgemm's either way, so
// every element of C gets Sgemm's arithmetic bit for bit.

// PackedB is a k x n matrix op(B) packed for the tile kernels of the path
// active when Prepare ran: column blocks of up to nc columns, each cut
// into Sgemm's k chunks, each chunk a run of nr-column micro-panels. It
// keeps a reference to the source, which the row kernel reads in place and
// which must not change while the packed copy is in use.
type PackedB struct {
	ks     *kernelSet
	transB bool
	k, n   int
	kc     int // depth of the k chunks (chunkDepth)
	ncMax  int // columns per block
	chunks int // k chunks per block
	b      []float32
	ldb    int
	buf    []float32 // backing storage of data
	data   []float32 // the packed blocks, 64-byte aligned
	// inPlace: the columns below nFull, whole 32-column micro-panels, are
	// read in place; data holds the last partial panel's k chunks
	// (kcur*32 values each, chunk pc at pc*32).
	inPlace bool
	nFull   int
}

// TileRows returns the rows of the tile kernel that Sgemm uses for a
// product with n columns on the active path: Sgemm computes a product of
// fewer rows with the row kernel (when B is not transposed), whose
// arithmetic differs from the tile kernel's.
func TileRows(n int) int { return pickKernels(n).mr }

// pickKernels returns the kernel set Sgemm uses for n columns on the
// active path.
func pickKernels(n int) *kernelSet {
	ks := &kernelSets[ActivePath()]
	if ks.narrow != nil && n <= ks.narrow.nr {
		ks = ks.narrow
	}
	return ks
}

// Prepare sizes p for op(B), k x n (b[p*ldb+j], or b[j*ldb+p] when transB),
// on the active path, and returns the number of parts Pack must be called
// with (0 .. parts-1, in any order, from any threads) before SgemmPacked
// may use it. It allocates only when p has to grow.
func (p *PackedB) Prepare(transB bool, k, n int, b []float32, ldb int) (parts int) {
	return p.PrepareRows(0, transB, k, n, b, ldb)
}

// PrepareRows is Prepare for products of at most m rows each (0: any): a
// product of one block of rows (m up to the tile kernels' row block)
// reads a B that is not transposed in place on the AVX512 path whatever
// its row stride, where Prepare may pack it to spare the L1 cache's sets
// (each micro-panel then serves every row tile before the next, from the
// L2 cache). The values are Prepare's.
func (p *PackedB) PrepareRows(m int, transB bool, k, n int, b []float32, ldb int) (parts int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernels: PackedB of %dx%d", k, n))
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("B", br, bc, b, ldb)
	ks := pickKernels(n)
	p.ks, p.transB, p.k, p.n, p.b, p.ldb = ks, transB, k, n, b, ldb
	if k == 0 || n == 0 {
		p.kc, p.ncMax, p.chunks, p.data = 0, 0, 0, nil
		return 0
	}
	p.kc = chunkDepth(k, ks.kc)
	p.ncMax = min(ks.nc, roundUp(n, ks.nr))
	p.chunks = (k + p.kc - 1) / p.kc
	// In place unless B's rows would collide in L1 (a row stride of a
	// multiple of 1024 floats, say: all its rows in one set), where a
	// packed panel that stays in L1 across the row tiles is faster, and
	// the products have more rows than one block (runInPlace).
	p.inPlace = ks.path == AVX512 && ks.nr == 32 && !transB && (!setConflict(ldb, 16) || m > 0 && m <= ks.mc)
	if p.inPlace {
		p.nFull = n &^ 31
		if p.nFull == n {
			p.data = nil
			return 0
		}
		p.data = aligned(&p.buf, 32*k)
		return p.chunks
	}
	p.data = aligned(&p.buf, roundUp(n, ks.nr)*k)
	return p.blocks() * p.chunks
}

// blocks is the number of column blocks.
func (p *PackedB) blocks() int { return (p.n + p.ncMax - 1) / p.ncMax }

// blockCols returns the first column of block bj and its columns, padded
// to whole micro-panels.
func (p *PackedB) blockCols(bj int) (jc, nc, ncp int) {
	jc = bj * p.ncMax
	nc = min(p.ncMax, p.n-jc)
	return jc, nc, roundUp(nc, p.ks.nr)
}

// Pack packs part i of the parts Prepare returned: one k chunk of one
// column block (of the last partial panel when B is read in place).
func (p *PackedB) Pack(i int) {
	if p.inPlace {
		pc := i * p.kc
		kcur := min(p.kc, p.k-pc)
		packB(p.data[pc*32:pc*32+kcur*32], p.b, p.ldb, false, pc, kcur, p.nFull, p.n-p.nFull, 32)
		return
	}
	bj, ci := i/p.chunks, i%p.chunks
	jc, nc, ncp := p.blockCols(bj)
	pc := ci * p.kc
	kcur := min(p.kc, p.k-pc)
	off := jc*p.k + pc*ncp
	packB(p.data[off:off+kcur*ncp], p.b, p.ldb, p.transB, pc, kcur, jc, nc, p.ks.nr)
}

// SgemmPacked computes C = op(A) x B, m x n, with B packed in p (by
// Prepare and every Pack, on the path still active): C[i*ldc+j] for rows
// i < m, not read before. op(A) is m x k, a[i*lda+p], or a[p*lda+i] when
// transA. With rowKernel it computes C with the row kernel, reading B in
// place (B must not be transposed), as Sgemm does for a product of fewer
// than TileRows(n) rows; otherwise with the tile kernels whatever m. Either
// way every element is the one Sgemm(transA, transB, M, n, k, 1, a, lda,
// b, ldb, 0, c, ldc) computes for any M >= m that makes Sgemm choose that
// kernel, bit for bit. It runs on the calling goroutine and does not
// allocate in steady state.
func SgemmPacked(transA bool, m int, a []float32, lda int, p *PackedB, c []float32, ldc int, rowKernel bool) {
	SgemmPackedCols(transA, m, a, lda, p, c, ldc, rowKernel, 0, p.n)
}

// PackedColStep is the granularity of SgemmPackedCols's column ranges: a
// multiple of every path's tile and row-kernel widths.
const PackedColStep = 32

// SgemmPackedCols is SgemmPacked for columns [j0, j1) of C only (j0 a
// multiple of PackedColStep, j1 <= n): threads can share a product of
// few rows by columns. The values are SgemmPacked's.
func SgemmPackedCols(transA bool, m int, a []float32, lda int, p *PackedB, c []float32, ldc int, rowKernel bool, j0, j1 int) {
	if p.ks == nil {
		panic("kernels: SgemmPacked with an unprepared PackedB")
	}
	if p.ks.path != pickKernels(p.n).path {
		panic(fmt.Sprintf("kernels: SgemmPacked on path %v with B packed for %v", ActivePath(), p.ks.path))
	}
	if rowKernel && p.transB {
		panic("kernels: SgemmPacked: the row kernel needs B not transposed")
	}
	if j0 < 0 || j0%PackedColStep != 0 || j1 < j0 || j1 > p.n {
		panic(fmt.Sprintf("kernels: SgemmPackedCols columns [%d, %d) of %d", j0, j1, p.n))
	}
	checkGemmArgs(transA, p.transB, m, p.n, p.k, a, lda, p.b, p.ldb, c, ldc)
	if m == 0 || j1 == j0 {
		return
	}
	if p.k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc+j0 : i*ldc+j1])
		}
		return
	}
	ks := p.ks
	pathCalls[ks.path][b2i(rowKernel)].Add(1)
	j := jobPool.Get().(*gemmJob)
	*j = gemmJob{
		transA: transA, transB: p.transB, m: m, n: p.n, k: p.k,
		alpha: 1, a: a, b: p.b, c: c, lda: lda, ldb: p.ldb, ldc: ldc,
		ks: ks, kc: p.kc, rows: rowKernel,
		packA: !transA && p.n >= ks.packPanels*ks.nr && setConflict(lda, 2*ks.mr),
	}
	switch {
	case rowKernel:
		j.runRows(0, m, j0, j1)
	case p.inPlace:
		inPlaceCalls.Add(1)
		j.runInPlace(p, j0, j1)
	default:
		j.runPacked(p, j0, j1)
	}
	*j = gemmJob{}
	jobPool.Put(j)
}

// b2i is 1 for true, 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runPacked computes columns [n0, n1) of C (n0 a multiple of nr) from
// the packed B: run's loops without the packing, the k chunks of each
// block of C in order.
func (j *gemmJob) runPacked(p *PackedB, n0, n1 int) {
	ks := j.ks
	mr := ks.mr
	ws := workspacePool.Get().(*workspace)
	defer workspacePool.Put(ws)
	mcMax := min(ks.mc, roundUp(j.m, mr))
	pa := aligned(&ws.abuf, mr*j.kc)
	if len(ws.tile) < mr*ks.nr {
		ws.tile = make([]float32, mr*ks.nr)
	}
	tile := ws.tile[:mr*ks.nr]
	for bj := n0 / p.ncMax; bj < p.blocks(); bj++ {
		jc, nc, ncp := p.blockCols(bj)
		// The block's columns in [n0, n1): from panel (c0-jc)/nr.
		c0, c1 := max(jc, n0), min(jc+nc, n1)
		if c0 >= c1 {
			break
		}
		base := p.data[jc*j.k:]
		for ic := 0; ic < j.m; ic += mcMax {
			mc := min(mcMax, j.m-ic)
			for pc := 0; pc < j.k; pc += j.kc {
				kcur := min(j.kc, j.k-pc)
				beta := float32(1)
				if pc == 0 {
					beta = 0
				}
				j.macro(pa, base[pc*ncp+(c0-jc)*kcur:], kcur, ic, mc, pc, c0, c1-c0, beta, tile)
			}
		}
	}
}

// panelCalls counts the products run by macroPanels (the test fails if
// the AVX512 path never did).
var panelCalls atomic.Int64

// edge4Calls counts the edge tiles computed with the 4-row kernel (the
// test fails if the AVX512 path never did).
var edge4Calls atomic.Int64

// edge4 computes the rows (at most 8) of a last tile of a product reading B
// in place, one full 32-column micro-panel at b (row p at b[p*ldb:]): op(A)
// packed in pa as a 12-row micro-panel (zeros past rows), C at c (row
// stride ldc), with f32Gemm4x32BsAVX512 on each group of 4 rows, whose
// FMAs and store per element are those of the 12-row kernel. A group of
// fewer than 4 rows goes through tile.
func (j *gemmJob) edge4(pa []float32, kc int, b *float32, c []float32, rows int, beta float32, tile []float32) {
	const nr = 32
	mr, ldc := j.ks.mr, j.ldc
	edge4Calls.Add(1)
	for q := 0; q < rows; q += 4 {
		r := min(4, rows-q)
		if r == 4 {
			f32Gemm4x32BsAVX512(kc, &pa[q], 1, mr, b, j.ldb, &c[q*ldc], ldc, j.alpha, beta)
			continue
		}
		if beta != 0 {
			for i := 0; i < r; i++ {
				copy(tile[i*nr:i*nr+nr], c[(q+i)*ldc:(q+i)*ldc+nr])
			}
		}
		f32Gemm4x32BsAVX512(kc, &pa[q], 1, mr, b, j.ldb, &tile[0], nr, j.alpha, beta)
		for i := 0; i < r; i++ {
			copy(c[(q+i)*ldc:(q+i)*ldc+nr], tile[i*nr:i*nr+nr])
		}
	}
}

// runInPlace is runPacked for a B read in place (p.inPlace): per block of
// up to nc columns, per block of mc rows, the k chunks in order, the full
// micro-panels through f32Gemm12x32BsAVX512 (a last tile of at most 8
// rows through f32Gemm4x32BsAVX512) and the last partial one through the
// packed kernel. A product of one block of rows (m <= mc: a late layer at
// a small batch) runs every row tile on a micro-panel before the next
// (macroPanels), else every micro-panel on a row tile before the next
// (macroInPlace); the kernels prefetch the next micro-panel's rows
// either way. The order changes no value: each element's FMAs and k
// chunks are the same.
func (j *gemmJob) runInPlace(p *PackedB, n0, n1 int) {
	ks := j.ks
	mr := ks.mr
	ws := workspacePool.Get().(*workspace)
	defer workspacePool.Put(ws)
	mcMax := min(ks.mc, roundUp(j.m, mr))
	oneBlock := j.m <= mcMax
	pa := aligned(&ws.abuf, mr*j.kc)
	if oneBlock {
		pa = aligned(&ws.abuf, mcMax*j.kc)
	}
	if len(ws.tile) < mr*ks.nr {
		ws.tile = make([]float32, mr*ks.nr)
	}
	tile := ws.tile[:mr*ks.nr]
	for jc := n0; jc < n1; jc += ks.nc {
		jEnd := min(n1, jc+ks.nc)
		for ic := 0; ic < j.m; ic += mcMax {
			mc := min(mcMax, j.m-ic)
			for pc := 0; pc < j.k; pc += j.kc {
				kcur := min(j.kc, j.k-pc)
				beta := float32(1)
				if pc == 0 {
					beta = 0
				}
				if oneBlock {
					panelCalls.Add(1)
					j.macroPanels(p, pa, kcur, ic, mc, pc, jc, jEnd, beta, tile)
				} else {
					j.macroInPlace(p, pa, kcur, ic, mc, pc, jc, jEnd, beta, tile)
				}
			}
		}
	}
}

// macroPanels is macroInPlace with the loops swapped: per micro-panel of
// B, every row tile of the block, so that the micro-panel is read from
// memory once and from the cache by the other tiles while the kernels
// prefetch the next one. pa holds the packed micro-panels of op(A) that
// the block needs (mc*kc floats at most): all of them with j.packA, else
// the last if partial.
func (j *gemmJob) macroPanels(p *PackedB, pa []float32, kc, ic, mc, pc, jc, jEnd int, beta float32, tile []float32) {
	const nr = 32
	mr := j.ks.mr
	var tiles [32]tileA // mc <= 32*mr (kernelSet.mc)
	nt := (mc + mr - 1) / mr
	for t := 0; t < nt; t++ {
		ir := t * mr
		tiles[t] = j.tileA(pa[t*mr*kc:(t+1)*mr*kc], ic+ir, min(mr, mc-ir), pc, kc)
	}
	for jr := jc; jr < jEnd; jr += nr {
		cols := min(nr, jEnd-jr)
		full := jr < p.nFull
		for t := 0; t < nt; t++ {
			ir := t * mr
			j.tileInPlace(p, &tiles[t], pa[t*mr*kc:], kc, min(mr, mc-ir), cols, pc, (ic+ir)*j.ldc+jr, jr, full, beta, tile)
		}
	}
}

// tileA is where a row tile's op(A) is read: a pointer and strides, and
// the prefetch distance to the next tile (f32Gemm12x32AVX512's a, rsa,
// csa, pfd).
type tileA struct {
	ap            *float32
	rsa, csa, pfd int
}

// tileA returns rows [i0, i0+rows) of op(A), depths [pc, pc+kc): in
// place, or packed into pa (mr*kc floats) for a partial tile or with
// j.packA.
func (j *gemmJob) tileA(pa []float32, i0, rows, pc, kc int) tileA {
	mr := j.ks.mr
	switch {
	case rows < mr || j.packA:
		packA(pa, j.a, j.lda, j.transA, i0, rows, pc, kc, mr)
		return tileA{&pa[0], 1, mr, 0}
	case j.transA:
		return tileA{&j.a[pc*j.lda+i0], 1, j.lda, mr}
	default:
		return tileA{&j.a[i0*j.lda+pc], j.lda, 1, mr * j.lda}
	}
}

// tileInPlace computes one tile of C (rows x cols at j.c[ci:], columns
// from jr) for the k chunk pc of depth kc: from a full micro-panel of B
// read in place, else from the packed last partial one; an edge tile
// through tile, or, of at most 8 rows on a full micro-panel, with the
// 4-row kernel (pa: the tile's packed op(A)).
func (j *gemmJob) tileInPlace(p *PackedB, ta *tileA, pa []float32, kc, rows, cols, pc, ci, jr int, full bool, beta float32, tile []float32) {
	const nr = 32
	mr, c, ldc := j.ks.mr, j.c, j.ldc
	kern := func(cp *float32, ld int, bt float32) {
		if full {
			f32Gemm12x32BsAVX512(kc, ta.ap, ta.rsa, ta.csa, ta.pfd, &j.b[pc*j.ldb+jr], j.ldb, cp, ld, j.alpha, bt)
		} else {
			f32Gemm12x32AVX512(kc, ta.ap, ta.rsa, ta.csa, ta.pfd, &p.data[pc*nr], cp, ld, j.alpha, bt)
		}
	}
	if rows == mr && cols == nr {
		kern(&c[ci], ldc, beta)
		return
	}
	if full && rows <= 8 && cols == nr && hasEdge4 {
		j.edge4(pa, kc, &j.b[pc*j.ldb+jr], c[ci:], rows, beta, tile)
		return
	}
	if beta != 0 {
		for i := 0; i < rows; i++ {
			copy(tile[i*nr:i*nr+cols], c[ci+i*ldc:ci+i*ldc+cols])
		}
	}
	kern(&tile[0], nr, beta)
	for i := 0; i < rows; i++ {
		copy(c[ci+i*ldc:ci+i*ldc+cols], tile[i*nr:i*nr+cols])
	}
}

// macroInPlace is macro for columns [jc, jEnd) of a B read in place: the
// same tiles, edge tiles and packing of op(A), the kernel reading each full
// micro-panel from B itself.
func (j *gemmJob) macroInPlace(p *PackedB, pa []float32, kc, ic, mc, pc, jc, jEnd int, beta float32, tile []float32) {
	const nr = 32
	mr := j.ks.mr
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		ta := j.tileA(pa, ic+ir, rows, pc, kc)
		for jr := jc; jr < jEnd; jr += nr {
			j.tileInPlace(p, &ta, pa, kc, rows, min(nr, jEnd-jr), pc, (ic+ir)*j.ldc+jr, jr, jr < p.nFull, beta, tile)
		}
	}
}
