//go:build amd64 && !noasm

package kernels

// The AVX-512F bodies of the per-tensor fake quant passes (fq_tensor.go),
// over n values, n a positive multiple of 16. c holds scale, inv, lo, hi.

// f32FakeQuantAVX512 writes:
//
//	for i := 0; i < n; i++ {
//		t := x[i] * c[1]
//		if t < c[2] {
//			t = c[2]
//		}
//		if t > c[3] {
//			t = c[3]
//		}
//		y[i] = ((t + 1.5*2^23) - 1.5*2^23) * c[0]
//	}
//
//go:noescape
func f32FakeQuantAVX512(x, y *float32, n int, c *[4]float32)

// f32FakeQuantGradAVX512 writes:
//
//	for i := 0; i < n; i++ {
//		t := x[i] * c[1]
//		dx[i] = dy[i]
//		if t < c[2] || t > c[3] {
//			dx[i] = 0
//		}
//	}
//
//go:noescape
func f32FakeQuantGradAVX512(x, dy, dx *float32, n int, c *[4]float32)

// f32MinMaxAVX512 writes 16 running minima to lanes[0:16] and maxima to
// lanes[16:32]:
//
//	for k := 0; k < 16; k++ {
//		lo, hi := +Inf, -Inf
//		for i := k; i < n; i += 16 {
//			if x[i] < lo {
//				lo = x[i]
//			}
//			if x[i] > hi {
//				hi = x[i]
//			}
//		}
//		lanes[k], lanes[16+k] = lo, hi
//	}
//
//go:noescape
func f32MinMaxAVX512(x *float32, n int, lanes *[32]float32)
