//go:build !amd64 || noasm

package kernels

import "unsafe"

// Without assembly no SIMD path is available: only Generic runs.
const (
	hasAVX2FMA = false
	hasAVX512F = false
)

// f32Gemm12x32AVX512 is the pure-Go body of the AVX-512 micro-kernel: it
// computes one 12x32 tile of C from op(A)[i][p] = a[i*rsa+p*csa] and
// b[p*32+j] = op(B)[p][j] (pfd, a prefetch distance, is ignored). It is never dispatched to in this build (the
// AVX512 path is unsupported); it exists so that the kernel table compiles.
func f32Gemm12x32AVX512(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32) {
	refTile(12, 32, k, a, rsa, csa, b, c, ldc, alpha, beta)
}

// f32Gemm6x16AVX2 is the pure-Go body of the AVX2 micro-kernel: it computes
// one 6x16 tile of C from op(A)[i][p] = a[i*rsa+p*csa] and b[p*16+j] =
// op(B)[p][j] (pfd, a prefetch distance, is ignored). Like f32Gemm12x32AVX512 it is never dispatched to
// in this build.
func f32Gemm6x16AVX2(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32) {
	refTile(6, 16, k, a, rsa, csa, b, c, ldc, alpha, beta)
}

// f32Gemm12x16AVX512 is the pure-Go body of the AVX-512 12x16
// micro-kernel; like the others it is never dispatched to in this build.
func f32Gemm12x16AVX512(k int, a *float32, rsa, csa, pfd int, b, c *float32, ldc int, alpha, beta float32) {
	refTile(12, 16, k, a, rsa, csa, b, c, ldc, alpha, beta)
}

// refTile is the loop every micro-kernel implements, for an mr x nr tile.
func refTile(mr, nr, k int, a *float32, rsa, csa int, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, (mr-1)*rsa+(k-1)*csa+1)
	bs := unsafe.Slice(b, nr*k)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var acc float32
			for p := 0; p < k; p++ {
				acc += as[i*rsa+p*csa] * bs[p*nr+j]
			}
			if beta == 0 {
				cs[i*ldc+j] = alpha * acc
			} else {
				cs[i*ldc+j] = alpha*acc + beta*cs[i*ldc+j]
			}
		}
	}
}

// f32Row32AVX512 is the pure-Go body of the AVX-512 row kernel (see
// rowKernel): up to 32 columns of one row of C, column j computed if bit j
// of mask is set. Like the tile kernels it is never dispatched to here.
func f32Row32AVX512(k int, a *float32, csa int, b *float32, ldb, mask int, c *float32, alpha, beta float32) {
	n := 0
	for n < 32 && mask&(1<<n) != 0 {
		n++
	}
	rowGeneric(k, a, csa, b, ldb, n, c, alpha, beta)
}

// f32Row16AVX2 is the pure-Go body of the AVX2 row kernel (see rowKernel):
// up to 16 columns of one row of C, column j computed if mask[j] is -1.
func f32Row16AVX2(k int, a *float32, csa int, b *float32, ldb int, mask *[16]int32, c *float32, alpha, beta float32) {
	n := 0
	for n < 16 && mask[n] == -1 {
		n++
	}
	rowGeneric(k, a, csa, b, ldb, n, c, alpha, beta)
}
