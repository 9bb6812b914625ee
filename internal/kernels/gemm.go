// Package kernels holds goqat's float32 compute kernels: a packed, blocked
// GEMM with AVX-512 and AVX2 FMA micro-kernels chosen at run time, a pure-Go
// fallback (and the only path under -tags noasm), and a plain reference that
// is the specification every fast path is tested against.
//
// Sgemm follows GotoBLAS/BLIS (sgemm_driver.go): blocks of op(B) are packed
// into contiguous micro-panels whatever the transpose (sgemm_pack.go), and a
// register-blocked micro-kernel computes one tile of C at a time from a
// packed B micro-panel and op(A) read in place through strides, prefetching
// the next tile's rows: 12x32 with AVX-512F, 6x16 with AVX2+FMA, 4x4 in Go.
// Matrices of at most 16 columns use the 6x16 tiles on AVX-512 CPUs too.
// When op(A) has fewer rows than a tile and B is not transposed (a
// matrix-vector product, say), row kernels compute C a row at a time from A
// and B in place (sgemm_rows.go).
//
// The path is chosen at start-up from the CPU (golang.org/x/sys/cpu): the
// fastest of Generic, AVX2, AVX512 that the CPU supports. The environment
// variable GOQAT_F32_PATH=generic|avx2|avx512, read once at start-up, caps
// that choice (GOQAT_F32_PATH=avx2 runs AVX2 even on an AVX-512 CPU; an
// unknown value is ignored). SetPath forces a path in tests and benchmarks;
// SupportedPaths lists the ones this CPU can run.
//
// Results are reproducible bit for bit for a given path and do not depend on
// Threads(): work is split along m or n at tile boundaries, never along k.
// Different paths may differ in the last bits (they use FMA or not, and
// their k blocking differs). Sgemm does not allocate in steady state: its
// buffers are pooled and its worker goroutines persistent.
package kernels

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(X) is X or its transpose: op(A) is m x k, op(B) is k x n, C is m x n.
// lda, ldb, ldc are the row strides of A, B, C as stored. With beta == 0, C
// is not read (NaNs in it do not propagate). With alpha == 0 or k == 0, A
// and B are not read and C = beta*C. Work is split across Threads()
// goroutines along m or n, never k, so results do not depend on the thread
// count. Sgemm panics if a dimension is negative, a stride too small or a
// slice too short for the given shape: these are programming errors.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm computed on the calling goroutine alone, whatever
// Threads() says: for callers that already split their work across
// threads (a part of kernels.ParallelFor, say), where handing parts to
// other threads would only add hand-offs. Its results are Sgemm's, bit for
// bit: the tiles and k chunks, hence the arithmetic of every element, do
// not depend on how the work is split.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm, on the calling goroutine alone if serial.
func sgemm(serial, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	p := ActivePath()
	ks := &kernelSets[p]
	if ks.narrow != nil && n <= ks.narrow.nr {
		ks = ks.narrow
	}
	rows := m < ks.mr && !transB
	if rows {
		pathCalls[ks.path][1].Add(1)
	} else {
		pathCalls[ks.path][0].Add(1)
	}
	j := jobPool.Get().(*gemmJob)
	*j = gemmJob{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
		ks: ks, kc: chunkDepth(k, ks.kc), rows: rows,
		packA: !transA && n >= ks.packPanels*ks.nr && setConflict(lda, 2*ks.mr),
	}
	if serial {
		j.run(0, m, 0, n)
	} else {
		j.parallel()
	}
	*j = gemmJob{} // drop the references to the caller's slices
	jobPool.Put(j)
}

// scaleC sets C = beta*C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkGemmArgs panics unless the slices hold the matrices their shapes and
// strides describe; the assembly kernels rely on it.
func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm with negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k // A as stored
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n // B as stored
	if transB {
		br, bc = n, k
	}
	checkMatrix("A", ar, ac, a, lda)
	checkMatrix("B", br, bc, b, ldb)
	checkMatrix("C", m, n, c, ldc)
}

// checkMatrix panics unless s holds a rows x cols matrix with row stride ld.
func checkMatrix(name string, rows, cols int, s []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: Sgemm: stride of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: Sgemm: %s has %d values, %dx%d with stride %d needs %d", name, len(s), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// SgemmRef is the reference GEMM: the plain triple loop, accumulating in
// float32 in k order. It is the specification of Sgemm.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
