//go:build !amd64 || noasm

package kernels

// f32ReLUGradAVX512 is never called without assembly; it exists so that
// relugrad.go compiles.
func f32ReLUGradAVX512(y, dy, dx *float32, n int) {
	panic("kernels: AVX-512 ReLU gradient kernel called in a build without assembly")
}
