package kernels

import "fmt"

// MaxWindow computes one output pixel of max pooling over C channels: o[c]
// and a[c] (len(o) == len(a) == C) receive the largest img[offs[t]+c] over
// the window's taps t and the index offs[t]+c of the tap that won, the
// first tap on ties (a later tap wins only if strictly greater, so NaN
// never replaces a value):
//
//	for c := range o {
//		o[c], a[c] = img[offs[0]+c], offs[0]+c
//		for _, off := range offs[1:] {
//			if v := img[off+c]; v > o[c] {
//				o[c], a[c] = v, off+c
//			}
//		}
//	}
//
// offs holds at least one tap, each with off+C <= len(img). With the
// AVX512 path active the channels in whole blocks of 16 run in AVX-512F
// assembly and the rest in Go: the same values and indices.
func MaxWindow(img []float32, offs []int32, o []float32, a []int32) {
	C := len(o)
	if len(a) != C || len(offs) == 0 {
		panic(fmt.Sprintf("kernels: MaxWindow with %d outputs, %d indices, %d taps", C, len(a), len(offs)))
	}
	for _, off := range offs {
		if off < 0 || int(off)+C > len(img) {
			panic(fmt.Sprintf("kernels: MaxWindow tap %d out of an image of %d values", off, len(img)))
		}
	}
	cv := 0
	if C >= 16 && ActivePath() == AVX512 {
		passCalls[AVX512].Add(1)
		cv = C &^ 15
		f32MaxWindowAVX512(&img[0], &offs[0], len(offs), &o[0], &a[0], cv)
	}
	if cv < C {
		passCalls[Generic].Add(1)
		maxWindowGo(img, offs, o, a, cv)
	}
}

// maxWindowGo is MaxWindow's loop over channels [c0, len(o)).
func maxWindowGo(img []float32, offs []int32, o []float32, a []int32, c0 int) {
	C := len(o)
	o, a = o[c0:], a[c0:len(o)]
	off0 := int(offs[0])
	copy(o, img[off0+c0:off0+C])
	for c := range a {
		a[c] = int32(off0 + c0 + c)
	}
	for _, off := range offs[1:] {
		src := img[int(off)+c0 : int(off)+C]
		src = src[:len(o)]
		for c, v := range src {
			if v > o[c] {
				o[c] = v
				a[c] = off + int32(c0+c)
			}
		}
	}
}

// RouteMax writes the gradient of one max-pooling output pixel to its
// window's cells, for windows that do not overlap (each input cell belongs
// to at most one window, so each is written once and nothing needs
// clearing first): with g and arg (C values) the pixel's output gradient
// and the winning indices that MaxWindow recorded, and offs the window's
// taps,
//
//	for _, off := range offs {
//		for c := 0; c < C; c++ {
//			var v float32 // +0
//			if arg[c] == off+c {
//				v += g[c] // 0 + g, as a scatter into a cleared buffer
//			}
//			dIn[off+c] = v
//		}
//	}
//
// Each off must satisfy 0 <= off and off+C <= len(dIn). With the AVX512
// path active the channels in whole blocks of 16 run in AVX-512F assembly
// and the rest in Go: the same bits.
func RouteMax(dIn, g []float32, arg, offs []int32) {
	C := len(g)
	if len(arg) != C {
		panic(fmt.Sprintf("kernels: RouteMax with %d gradients and %d indices", C, len(arg)))
	}
	for _, off := range offs {
		if off < 0 || int(off)+C > len(dIn) {
			panic(fmt.Sprintf("kernels: RouteMax tap %d out of %d values", off, len(dIn)))
		}
	}
	cv := 0
	if C >= 16 && len(offs) > 0 && ActivePath() == AVX512 {
		passCalls[AVX512].Add(1)
		cv = C &^ 15
		f32RouteMaxAVX512(&dIn[0], &g[0], &arg[0], &offs[0], len(offs), cv)
	}
	if cv < C {
		passCalls[Generic].Add(1)
		routeMaxGo(dIn, g, arg, offs, cv)
	}
}

// routeMaxGo is RouteMax's loop over channels [c0, len(g)).
func routeMaxGo(dIn, g []float32, arg, offs []int32, c0 int) {
	C := len(g)
	g, arg = g[c0:], arg[c0:C]
	arg = arg[:len(g)]
	for _, off := range offs {
		d := dIn[int(off)+c0 : int(off)+C]
		d = d[:len(g)]
		base := off + int32(c0)
		for c, a := range arg {
			var v float32
			if a == base+int32(c) {
				v += g[c]
			}
			d[c] = v
		}
	}
}
