//go:build !amd64 || noasm

package kernels

// f32CopyRowsNTAVX512 is never called without assembly; it exists so that
// copy.go compiles.
func f32CopyRowsNTAVX512(dst, src *float32, n, width, dstStride, srcStride int) {
	panic("kernels: AVX-512 copy kernel called in a build without assembly")
}

// f32CopyRowsAVX512 is never called without assembly; it exists so that
// copy.go compiles.
func f32CopyRowsAVX512(dst, src *float32, n, width, dstStride, srcStride int) {
	panic("kernels: AVX-512 copy kernel called in a build without assembly")
}
