//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so bnSIMDCols returns
// 0 and these are never called; they exist so that bn.go compiles.

func f64ChannelSumsAVX512(x *float32, rows, ld, cv int, shift, s, q *float64) {
	panic("kernels: AVX-512 batch-norm kernel called in a build without assembly")
}

func f32NormActAVX512(x, y *float32, rows, ld, cv int, center, scale, beta *float32, act int) {
	panic("kernels: AVX-512 batch-norm kernel called in a build without assembly")
}

func f64ChannelGradSumsAVX512(x, dy *float32, rows, ld, cv int, zc, zs, zb *float32, center, s, q *float64, act int) {
	panic("kernels: AVX-512 batch-norm kernel called in a build without assembly")
}

func f32NormActGradAVX512(x, dy, dx *float32, rows, ld, cv int, center, scale, beta, k1, k2, k3 *float32, act int) {
	panic("kernels: AVX-512 batch-norm kernel called in a build without assembly")
}
