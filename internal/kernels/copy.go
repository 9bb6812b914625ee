package kernels

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// CopyRowsNT copies n rows of width floats from src to dst, row i from
// src[i*srcStride:] to dst[i*dstStride:] (the source rows may overlap, the
// destination rows may not), like the loop
//
//	for i := 0; i < n; i++ {
//		copy(dst[i*dstStride:i*dstStride+width], src[i*srcStride:i*srcStride+width])
//	}
//
// With the AVX512 path active, a width that is a multiple of 16 and every
// destination row 64-byte aligned (dst's address and dstStride*4 multiples
// of 64), it stores with non-temporal (streaming) stores, which write the
// destination to memory without reading it into the caches first: for
// large outputs that are not read again soon, such as an im2col matrix kept
// for the backward pass. The stores are complete (SFENCE) when it returns.
// The values are those of copy.
func CopyRowsNT(dst, src []float32, n, width, dstStride, srcStride int) {
	if n <= 0 || width <= 0 {
		return
	}
	if width > dstStride || len(dst) < (n-1)*dstStride+width || len(src) < (n-1)*srcStride+width {
		panic(fmt.Sprintf("kernels: CopyRowsNT of %d rows of %d with strides %d, %d into %d from %d values", n, width, dstStride, srcStride, len(dst), len(src)))
	}
	if ActivePath() == AVX512 && width%16 == 0 && dstStride%16 == 0 && uintptr(unsafe.Pointer(&dst[0]))%64 == 0 {
		passCalls[AVX512].Add(1)
		f32CopyRowsNTAVX512(&dst[0], &src[0], n, width, dstStride, srcStride)
		return
	}
	passCalls[Generic].Add(1)
	for i := 0; i < n; i++ {
		copy(dst[i*dstStride:i*dstStride+width], src[i*srcStride:i*srcStride+width])
	}
}

// CopyRows copies n rows of width floats from src to dst, row i from
// src[i*srcStride:] to dst[i*dstStride:] (the source rows may overlap, the
// destination rows may not), like the loop of CopyRowsNT but with ordinary
// stores, which leave the destination in the cache: for a block that is
// read again at once, such as the im2col rows of a convolution that its
// GEMM reads next (docs/DESIGN.md, Training kernels). With the AVX512 path
// active and a width that is a multiple of 16 the rows are copied by
// AVX-512 loads and stores, one call for all of them instead of one
// memmove per row. The values are those of copy.
func CopyRows(dst, src []float32, n, width, dstStride, srcStride int) {
	if n <= 0 || width <= 0 {
		return
	}
	if width > dstStride || len(dst) < (n-1)*dstStride+width || len(src) < (n-1)*srcStride+width {
		panic(fmt.Sprintf("kernels: CopyRows of %d rows of %d with strides %d, %d into %d from %d values", n, width, dstStride, srcStride, len(dst), len(src)))
	}
	if width%16 == 0 && ActivePath() == AVX512 {
		if !copyRowsRan.Load() {
			copyRowsRan.Store(true)
		}
		f32CopyRowsAVX512(&dst[0], &src[0], n, width, dstStride, srcStride)
		return
	}
	for i := 0; i < n; i++ {
		copy(dst[i*dstStride:i*dstStride+width], src[i*srcStride:i*srcStride+width])
	}
}

// copyRowsRan is set when CopyRows runs the AVX-512 kernel (the path-ran
// test clears and reads it). A flag read before it is written, not a
// counter like passCalls: the threads of im2col call CopyRows thousands of
// times per layer, and an atomic add per call made them take turns owning
// the counter's cache line.
var copyRowsRan atomic.Bool
