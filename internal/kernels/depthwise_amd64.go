//go:build amd64 && !noasm

package kernels

// f32DepthwiseAVX512 computes n output pixels of a depthwise convolution
// (depthwise.go), all c channels, 16 per step with AVX-512F, the last step
// masked; x, w, xs, xr and wr count floats:
//
//	for p := 0; p < n; p++ {
//		for ch := 0; ch < c; ch++ {
//			acc := float32(0)
//			if b != nil {
//				acc = b[ch]
//			}
//			for i := 0; i < rows; i++ {
//				for j := 0; j < cols; j++ {
//					acc += float32(x[p*xs+i*xr+j*c+ch] * w[i*wr+j*c+ch])
//				}
//			}
//			out[p*c+ch] = acc
//		}
//	}
//
// rows and cols are both positive or both 0 (no tap: out is the bias), and
// then x and w are not read.
//
//go:noescape
func f32DepthwiseAVX512(out, x, w, b *float32, n, c, rows, cols, xs, xr, wr int)
