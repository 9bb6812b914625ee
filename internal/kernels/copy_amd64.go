//go:build amd64 && !noasm

package kernels

// f32CopyRowsNTAVX512 is CopyRowsNT with streaming stores: width a
// positive multiple of 16, dst and dstStride*4 multiples of 64, n >= 1:
//
//	for i := 0; i < n; i++ {
//		copy(dst[i*dstStride:i*dstStride+width], src[i*srcStride:])
//	}
//	sfence()
//
//go:noescape
func f32CopyRowsNTAVX512(dst, src *float32, n, width, dstStride, srcStride int)

// f32CopyRowsAVX512 is CopyRows' AVX-512F body: width a positive multiple
// of 16, n >= 1:
//
//	for i := 0; i < n; i++ {
//		copy(dst[i*dstStride:i*dstStride+width], src[i*srcStride:])
//	}
//
//go:noescape
func f32CopyRowsAVX512(dst, src *float32, n, width, dstStride, srcStride int)
