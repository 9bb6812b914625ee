//go:build !amd64 || noasm

package kernels

// f32SumTapsAVX512 is never called without assembly; it exists so that
// gather.go compiles.
func f32SumTapsAVX512(d, src *float32, offs *int, ntaps, cv int) {
	panic("kernels: AVX-512 gather kernel called in a build without assembly")
}

// f32SumTapsRunAVX512 is never called without assembly; it exists so that
// gather.go compiles.
func f32SumTapsRunAVX512(d, src *float32, offs *int, ntaps, cv, count, dstStep, srcStep int) {
	panic("kernels: AVX-512 gather kernel called in a build without assembly")
}
