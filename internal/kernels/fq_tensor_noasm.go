//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so fqTensorSIMD
// returns 0 and these are never called; they exist so that fq_tensor.go
// compiles.

func f32FakeQuantAVX512(x, y *float32, n int, c *[4]float32) {
	panic("kernels: AVX-512 fake quant kernel called in a build without assembly")
}

func f32FakeQuantGradAVX512(x, dy, dx *float32, n int, c *[4]float32) {
	panic("kernels: AVX-512 fake quant kernel called in a build without assembly")
}

func f32MinMaxAVX512(x *float32, n int, lanes *[32]float32) {
	panic("kernels: AVX-512 fake quant kernel called in a build without assembly")
}
