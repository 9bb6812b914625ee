//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so PackedB never reads
// B in place and this is never called; it exists so that sgemm_packed.go
// compiles.
func f32Gemm12x32BsAVX512(k int, a *float32, rsa, csa, pfd int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32) {
	panic("kernels: AVX-512 in-place tile kernel called in a build without assembly")
}

func f32PackPanel32AVX512(dst, src *float32, rows, lds int) {
	panic("kernels: AVX-512 packing called in a build without assembly")
}

func f32Gemm4x32BsAVX512(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32) {
	panic("kernels: AVX-512 in-place edge kernel called in a build without assembly")
}

// hasEdge4 reports whether f32Gemm4x32BsAVX512 exists in this build.
const hasEdge4 = false
