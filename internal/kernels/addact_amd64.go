//go:build amd64 && !noasm

package kernels

// f32AddActAVX512 writes, for n a positive multiple of 16 and act 0
// (linear), 1 (ReLU) or 2 (ReLU6):
//
//	for i := 0; i < n; i++ {
//		y[i] = act1(a[i]+b[i], act) // Go's max and min, NaN bits included
//	}
//
//go:noescape
func f32AddActAVX512(a, b, y *float32, n, act int)

// f32ActAVX512 writes y[i] = act1(x[i], act) for i < n, n a positive
// multiple of 16.
//
//go:noescape
func f32ActAVX512(x, y *float32, n, act int)

// f32BiasActAVX512 writes, for rows >= 1 and cols a positive multiple of
// 16:
//
//	for r := 0; r < rows; r++ {
//		for j := 0; j < cols; j++ {
//			y[r*ld+j] = act1(y[r*ld+j]+bias[j], act)
//		}
//	}
//
//go:noescape
func f32BiasActAVX512(y, bias *float32, rows, cols, ld, act int)
