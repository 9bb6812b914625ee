//go:build amd64 && !noasm

package kernels

// f32ReLUGradAVX512 is ReLUGrad for n values, n a positive multiple of 16,
// with AVX-512F: dx[i] = dy[i] if int32(bits(y[i]))-1 >= 0 (wrapping),
// else +0.
//
//go:noescape
func f32ReLUGradAVX512(y, dy, dx *float32, n int)
