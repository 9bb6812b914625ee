//go:build !amd64 || noasm

package kernels

// Without assembly the AVX512 path is never active, so DepthwiseRows never
// calls this; it exists so that depthwise.go compiles.
func f32DepthwiseAVX512(out, x, w, b *float32, n, c, rows, cols, xs, xr, wr int) {
	panic("kernels: AVX-512 depthwise kernel called in a build without assembly")
}
