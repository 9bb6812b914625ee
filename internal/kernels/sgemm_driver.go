package kernels

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/goqat/goqat/internal/workers"
)

// microKernel computes one mr x nr tile of C from op(A) read through strides
// (op(A)[i][p] = a[i*rsa+p*csa]) and a packed B micro-panel, the loop in the
// doc of f32Gemm12x32AVX512 with 12 and 32 replaced by mr, nr: C =
// alpha*op(A)*op(B) + beta*C, and C is not read when beta == 0. pfd is
// where, relative to a, the next tile's op(A) starts: kernels prefetch it.
type microKernel func(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32)

// kernelSet is one path's kernels and its cache blocking.
type kernelSet struct {
	path   Path // whose instructions the kernels use
	kernel microKernel
	mr, nr int // tile of C the kernel computes
	row    rowKernel
	rw     int // columns of C per row-kernel call
	// kc is the largest depth of a packed block: k is cut into
	// ceil(k/kc) chunks of equal size (fixed for a given k, whatever the
	// thread count, so results do not depend on it).
	kc int
	// mc is the number of rows of C computed per packed B block before
	// moving to the next k chunk (a multiple of mr): an mc x nc block of C
	// stays in cache across the k chunks.
	mc int
	// nc is the number of columns of op(B) packed at once (a multiple of
	// nr).
	nc int
	// packPanels is the number of nr-column panels of C from which op(A)
	// is packed when its rows would collide in L1 (setConflict): the copy
	// pays for itself only if each micro-panel is reused that many times.
	packPanels int
	// narrow, if set, is used instead when n <= narrow.nr: a narrower
	// tile wastes fewer lanes on matrices with few columns.
	narrow *kernelSet
	// bBudget is the size in floats of packed B kept at once: as many k
	// chunks of an nc block as fit (at least one) are packed together, so
	// that each mc x nc block of C is finished for all of them while it is
	// in cache instead of being revisited from memory once per chunk.
	bBudget int
}

// kernelSets holds the kernels and blocking of each path. The blocking was
// chosen by measurement (see BenchmarkSgemm512 and BenchmarkSgemmCNN).
var kernelSets = [numPaths]kernelSet{
	Generic: {path: Generic, kernel: f32Gemm4x4Generic, mr: 4, nr: 4, row: rowGeneric, rw: 16, kc: 256, mc: 64, nc: 1024, packPanels: 8, bBudget: 1 << 17},
	AVX2:    {path: AVX2, kernel: f32Gemm6x16AVX2, mr: 6, nr: 16, row: rowAVX2, rw: 16, kc: 320, mc: 96, nc: 1024, packPanels: 24, bBudget: 1 << 17},
	AVX512:  {path: AVX512, kernel: f32Gemm12x32AVX512, mr: 12, nr: 32, row: rowAVX512, rw: 32, kc: 320, mc: 96, nc: 1024, packPanels: 4, bBudget: 1 << 17},
}

// narrowAVX512 is the AVX-512 path's set for matrices of at most 16
// columns (a 32-wide tile would leave half its lanes or more idle): the
// 12x16 tile kernel, whose FMA chains and stores are those of the 12x32
// one, with the AVX2 row kernel of 16 columns and the AVX2 set's blocking.
var narrowAVX512 = kernelSet{path: AVX512, kernel: f32Gemm12x16AVX512, mr: 12, nr: 16, row: rowAVX2, rw: 16, kc: 320, mc: 96, nc: 1024, packPanels: 24, bBudget: 1 << 17}

func init() {
	if hasAVX2FMA {
		kernelSets[AVX512].narrow = &narrowAVX512
	}
}

// pathCalls counts, per kernelSet.path, the Sgemm calls that ran that
// path's tile kernel ([p][0]) or row kernel ([p][1]); the tests check that
// every path the CPU supports was exercised.
var pathCalls [numPaths][2]atomic.Int64

// gemmJob is one Sgemm call's arguments, shared by the goroutines working
// on it. Jobs are pooled so that a call does not allocate.
type gemmJob struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	ks             *kernelSet
	kc             int  // depth of each k chunk but maybe the last
	rows           bool // use the row kernel (few rows, B not transposed)
	packA          bool // pack every micro-panel of op(A) (see setConflict)

	// The split across threads (sgemm_threads.go).
	splitN bool          // parts split n, not m
	tile   int           // rows or columns of a tile along the split
	parts  workers.Group // parts handed to workers and not done
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

// workspace is one goroutine's buffers, pooled and reused: the backing
// storage of the packed A edge panel and of the packed B block (sliced to a
// 64-byte boundary by aligned), and an mr x nr tile for the edges of C.
type workspace struct {
	abuf, bbuf, tile []float32
}

var workspacePool = sync.Pool{New: func() any { return new(workspace) }}

// aligned returns n floats of *buf starting at a 64-byte boundary, growing
// *buf if it is too small. The contents are not cleared.
func aligned(buf *[]float32, n int) []float32 {
	const align = 64 / 4
	if cap(*buf) < n+align {
		*buf = make([]float32, n+align)
	}
	s := (*buf)[:cap(*buf)]
	off := int(uintptr(unsafe.Pointer(&s[0]))%64) / 4
	if off != 0 {
		off = align - off
	}
	return s[off : off+n : off+n]
}

// chunkDepth returns the depth of the k chunks: k cut into ceil(k/kcMax)
// chunks of nearly equal size.
func chunkDepth(k, kcMax int) int {
	chunks := (k + kcMax - 1) / kcMax
	return (k + chunks - 1) / chunks
}

// run computes rows [m0, m1) and columns [n0, n1) of C. m0 is a multiple of
// mr and n0 of nr, so the tiles, and hence the arithmetic of every element,
// are the same whichever way the work is split.
func (j *gemmJob) run(m0, m1, n0, n1 int) {
	if j.rows {
		j.runRows(m0, m1, n0, n1)
		return
	}
	ks := j.ks
	mr, nr, kc := ks.mr, ks.nr, j.kc
	ws := workspacePool.Get().(*workspace)
	defer workspacePool.Put(ws)

	mcMax := min(ks.mc, roundUp(m1-m0, mr))
	ncMax := min(ks.nc, roundUp(n1-n0, nr))
	// Chunks of k whose packed B is kept at once: all of them when they fit
	// in bBudget (tall, narrow C), else as many as fit, at least one (the
	// classic Goto loop order).
	group := max(1, ks.bBudget/(kc*ncMax))
	chunks := (j.k + kc - 1) / kc
	group = min(group, chunks)
	pa := aligned(&ws.abuf, mr*kc)
	pb := aligned(&ws.bbuf, group*kc*ncMax)
	if len(ws.tile) < mr*nr {
		ws.tile = make([]float32, mr*nr)
	}
	tile := ws.tile[:mr*nr]

	for jc := n0; jc < n1; jc += ncMax {
		nc := min(ncMax, n1-jc)
		ncp := roundUp(nc, nr)
		for pg := 0; pg < j.k; pg += group * kc {
			pgEnd := min(j.k, pg+group*kc)
			for pc := pg; pc < pgEnd; pc += kc {
				kcur := min(kc, j.k-pc)
				off := (pc - pg) / kc * kc * ncp
				packB(pb[off:off+kcur*ncp], j.b, j.ldb, j.transB, pc, kcur, jc, nc, nr)
			}
			for ic := m0; ic < m1; ic += mcMax {
				mc := min(mcMax, m1-ic)
				for pc := pg; pc < pgEnd; pc += kc {
					kcur := min(kc, j.k-pc)
					beta := float32(1)
					if pc == 0 {
						beta = j.beta
					}
					bblk := pb[(pc-pg)/kc*kc*ncp:]
					j.macro(pa, bblk, kcur, ic, mc, pc, jc, nc, beta, tile)
				}
			}
		}
	}
}

// macro runs the micro-kernel over an mc x nc block of C, rows ic.. and
// columns jc.., for the k chunk pc.. of depth kc. pb is the packed B block.
// op(A) is read in place, through strides, but for a last partial
// micro-panel, which is packed into pa with zero rows, and when j.packA.
// (Reading A in place measured faster than packing it on every shape
// tried but those of setConflict: the kernels prefetch the next tile's
// rows, and a packed copy costs a pass over A.)
func (j *gemmJob) macro(pa, pb []float32, kc, ic, mc, pc, jc, nc int, beta float32, tile []float32) {
	ks := j.ks
	mr, nr := ks.mr, ks.nr
	kern := ks.kernel
	c, ldc := j.c, j.ldc
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		var ap *float32
		var rsa, csa, pfd int
		switch {
		case rows < mr || j.packA:
			packA(pa, j.a, j.lda, j.transA, ic+ir, rows, pc, kc, mr)
			ap, rsa, csa, pfd = &pa[0], 1, mr, 0
		case j.transA:
			ap, rsa, csa, pfd = &j.a[pc*j.lda+ic+ir], 1, j.lda, mr
		default:
			ap, rsa, csa, pfd = &j.a[(ic+ir)*j.lda+pc], j.lda, 1, mr*j.lda
		}
		for jr := 0; jr < nc; jr += nr {
			cols := min(nr, nc-jr)
			bp := &pb[jr*kc]
			ci := (ic+ir)*ldc + jc + jr
			if rows == mr && cols == nr {
				kern(kc, ap, rsa, csa, pfd, bp, &c[ci], ldc, j.alpha, beta)
				continue
			}
			// Edge tile: run the same kernel on a full tile in tile, then
			// copy the valid part out, so edge elements get the same
			// arithmetic as the others.
			if beta != 0 {
				for i := 0; i < rows; i++ {
					copy(tile[i*nr:i*nr+cols], c[ci+i*ldc:ci+i*ldc+cols])
				}
			}
			kern(kc, ap, rsa, csa, pfd, bp, &tile[0], nr, j.alpha, beta)
			for i := 0; i < rows; i++ {
				copy(c[ci+i*ldc:ci+i*ldc+cols], tile[i*nr:i*nr+cols])
			}
		}
	}
}

// roundUp rounds x up to a multiple of m.
func roundUp(x, m int) int { return (x + m - 1) / m * m }
