//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so addActSIMD returns
// 0 and these are never called; they exist so that addact.go compiles.

func f32AddActAVX512(a, b, y *float32, n, act int) {
	panic("kernels: AVX-512 add kernel called in a build without assembly")
}

func f32ActAVX512(x, y *float32, n, act int) {
	panic("kernels: AVX-512 activation kernel called in a build without assembly")
}

func f32BiasActAVX512(y, bias *float32, rows, cols, ld, act int) {
	panic("kernels: AVX-512 bias kernel called in a build without assembly")
}
