//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so fqSIMDCols returns
// 0 and these are never called; they exist so that fq_fold.go compiles.

func f64FoldStatsAVX512(z *float32, rows, ld, cv int, inv, bias *float32, shift, s, q *float64, lo, hi *float32) {
	panic("kernels: AVX-512 folded kernel called in a build without assembly")
}

func f32FoldForwardAVX512(z, out *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int) {
	panic("kernels: AVX-512 folded kernel called in a build without assembly")
}

func f64FoldGradSumsAVX512(z, dy *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, center64, s, q *float64) {
	panic("kernels: AVX-512 folded kernel called in a build without assembly")
}

func f32FoldGradAVX512(z, dy, dz *float32, rows, ld, cv int, inv, bias, center, scale, beta *float32, qc *[4]float32, flag int, k1, k2, k3 *float32, s1, s2 *float64) {
	panic("kernels: AVX-512 folded kernel called in a build without assembly")
}
