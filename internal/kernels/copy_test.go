package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// aligned64 returns n floats starting at a 64-byte boundary, plus the
// offset of that start in the backing slice.
func aligned64(n int) ([]float32, int) {
	s := make([]float32, n+16)
	off := 0
	for uintptr(unsafe.Pointer(&s[off]))%64 != 0 {
		off++
	}
	return s, off
}

// TestCopyRowsNT compares CopyRowsNT on every path with copy, for aligned
// and unaligned destinations, widths that are and are not multiples of 16,
// and overlapping source rows, with guard values around every row.
func TestCopyRowsNT(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(61, 62))
		for _, tc := range []struct{ n, width, dstStride, srcStride, shift int }{
			{1, 16, 16, 16, 0}, {3, 96, 288, 32, 0}, {5, 32, 48, 8, 0}, {4, 64, 64, 64, 0},
			{3, 96, 288, 32, 1}, {2, 20, 32, 20, 0}, {3, 7, 9, 3, 0}, {0, 16, 16, 16, 0},
		} {
			src := make([]float32, max(1, (tc.n-1)*tc.srcStride+tc.width))
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			size := max(0, (tc.n-1)*tc.dstStride+tc.width) + 40
			buf, off := aligned64(size + tc.shift)
			dst := buf[off+tc.shift : off+tc.shift+size]
			for i := range dst {
				dst[i] = bnGuard
			}
			want := append([]float32(nil), dst...)
			for i := 0; i < tc.n; i++ {
				copy(want[i*tc.dstStride:i*tc.dstStride+tc.width], src[i*tc.srcStride:])
			}
			CopyRowsNT(dst, src, tc.n, tc.width, tc.dstStride, tc.srcStride)
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v: dst[%d] = %v, want %v", tc, i, dst[i], want[i])
				}
			}
		}
	})
}

// TestCopyRowsNTPathsExercised fails if a path this CPU supports did not
// run its own code for an aligned copy.
func TestCopyRowsNTPathsExercised(t *testing.T) {
	buf, off := aligned64(32)
	dst := buf[off : off+32]
	src := make([]float32, 32)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		want := p
		if p == AVX2 {
			want = Generic
		}
		before := passCalls[want].Load()
		CopyRowsNT(dst, src, 2, 16, 16, 16)
		restore()
		if passCalls[want].Load() == before {
			t.Errorf("CopyRowsNT with SetPath(%v) did not run the %v code", p, want)
		}
	}
}

// TestCopyRows compares CopyRows on every path with copy, for widths that
// are and are not multiples of 16 (one to four 48-float blocks and a
// 16-float tail), overlapping source rows and unaligned destinations,
// with guard values around and between every row.
func TestCopyRows(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(63, 64))
		for _, tc := range []struct{ n, width, dstStride, srcStride, shift int }{
			{1, 16, 16, 16, 0}, {3, 48, 144, 16, 1}, {5, 32, 48, 8, 3}, {4, 64, 64, 64, 0},
			{7, 96, 288, 64, 5}, {2, 208, 211, 208, 2}, {3, 192, 576, 128, 0}, {3, 9, 27, 6, 1},
			{2, 20, 32, 20, 0}, {0, 16, 16, 16, 0}, {6, 144, 145, 32, 7},
		} {
			src := make([]float32, max(1, (tc.n-1)*tc.srcStride+tc.width))
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			size := max(0, (tc.n-1)*tc.dstStride+tc.width) + 40
			buf, off := aligned64(size + tc.shift)
			dst := buf[off+tc.shift : off+tc.shift+size]
			for i := range dst {
				dst[i] = bnGuard
			}
			want := append([]float32(nil), dst...)
			for i := 0; i < tc.n; i++ {
				copy(want[i*tc.dstStride:i*tc.dstStride+tc.width], src[i*tc.srcStride:])
			}
			CopyRows(dst, src, tc.n, tc.width, tc.dstStride, tc.srcStride)
			for i := range dst {
				if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v %+v: dst[%d] = %v, want %v", p, tc, i, dst[i], want[i])
				}
			}
		}
	})
}

// TestCopyRowsPathsExercised fails if the CPU supports AVX-512 and
// CopyRows did not run its AVX-512 kernel under that path.
func TestCopyRowsPathsExercised(t *testing.T) {
	dst, src := make([]float32, 96), make([]float32, 96)
	for _, p := range SupportedPaths() {
		if p != AVX512 {
			continue
		}
		restore := SetPath(p)
		copyRowsRan.Store(false)
		CopyRows(dst, src, 2, 48, 48, 48)
		restore()
		if !copyRowsRan.Load() {
			t.Errorf("CopyRows with SetPath(%v) did not run the AVX-512 kernel", p)
		}
	}
}
