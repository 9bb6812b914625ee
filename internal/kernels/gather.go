package kernels

import (
	"fmt"
	"sync/atomic"
)

// SumTaps sets d[c], for every c < len(d), to the sum over the taps, in
// order and starting from +0, of src[off+c]:
//
//	for c := range d {
//		var acc float32
//		for _, off := range offs {
//			acc += src[off+c]
//		}
//		d[c] = acc
//	}
//
// (col2im's gather: a pixel's gradient is the sum of the im2col entries
// copied from it). Each off must satisfy 0 <= off and off+len(d) <=
// len(src). With the AVX512 path active the channels in whole blocks of 16
// run in AVX-512F assembly and the rest in Go: the same bits.
func SumTaps(d, src []float32, offs []int) {
	C := len(d)
	for _, off := range offs {
		if off < 0 || off+C > len(src) {
			panic(fmt.Sprintf("kernels: SumTaps tap %d out of %d values", off, len(src)))
		}
	}
	cv := 0
	if C >= 16 && len(offs) > 0 && ActivePath() == AVX512 {
		passCalls[AVX512].Add(1)
		cv = C &^ 15
		f32SumTapsAVX512(&d[0], &src[0], &offs[0], len(offs), cv)
	}
	if cv < C {
		passCalls[Generic].Add(1)
		sumTapsGo(d, src, offs, cv)
	}
}

// sumTapsGo is SumTaps' loop over channels [c0, len(d)), eight at a time
// in registers.
func sumTapsGo(d, src []float32, offs []int, c0 int) {
	C := len(d)
	c := c0
	for ; c+8 <= C; c += 8 {
		var a0, a1, a2, a3, a4, a5, a6, a7 float32
		for _, o := range offs {
			s := src[o+c : o+c+8 : o+c+8]
			a0 += s[0]
			a1 += s[1]
			a2 += s[2]
			a3 += s[3]
			a4 += s[4]
			a5 += s[5]
			a6 += s[6]
			a7 += s[7]
		}
		dd := d[c : c+8 : c+8]
		dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], dd[6], dd[7] = a0, a1, a2, a3, a4, a5, a6, a7
	}
	for ; c < C; c++ {
		var a float32
		for _, o := range offs {
			a += src[o+c]
		}
		d[c] = a
	}
}

// SumTapsRun is SumTaps for a run of count pixels whose taps all move by
// srcStep from one pixel to the next (the interior of a row in col2im,
// where the next pixel's taps are the next output pixel's rows): for j <
// count,
//
//	SumTaps(d[j*dstStep:j*dstStep+width], src[j*srcStep:], offs)
//
// in one call (docs/DESIGN.md, Training kernels). Every off must satisfy
// 0 <= off and off+(count-1)*srcStep+width <= len(src), and dstStep >=
// width. With the AVX512 path active the channels in whole blocks of 16
// run in AVX-512F assembly and the rest in Go: SumTaps' bits.
func SumTapsRun(d, src []float32, offs []int, width, count, dstStep, srcStep int) {
	if count <= 0 || width <= 0 {
		return
	}
	if dstStep < width || srcStep < 0 || len(d) < (count-1)*dstStep+width {
		panic(fmt.Sprintf("kernels: SumTapsRun of %d pixels of %d with steps %d, %d into %d values", count, width, dstStep, srcStep, len(d)))
	}
	last := (count - 1) * srcStep
	for _, off := range offs {
		if off < 0 || off+last+width > len(src) {
			panic(fmt.Sprintf("kernels: SumTapsRun tap %d (+%d) out of %d values", off, last, len(src)))
		}
	}
	cv := 0
	if width >= 16 && len(offs) > 0 && ActivePath() == AVX512 {
		if !sumTapsRunRan.Load() {
			sumTapsRunRan.Store(true)
		}
		cv = width &^ 15
		f32SumTapsRunAVX512(&d[0], &src[0], &offs[0], len(offs), cv, count, dstStep, srcStep)
	}
	if cv < width {
		for j := 0; j < count; j++ {
			sumTapsGo(d[j*dstStep:j*dstStep+width], src[j*srcStep:], offs, cv)
		}
	}
}

// sumTapsRunRan is set when SumTapsRun runs the AVX-512 kernel (the
// path-ran test clears and reads it): a flag, not a counter, for the
// reason of copyRowsRan.
var sumTapsRunRan atomic.Bool
