//go:build amd64 && !noasm

package kernels

// f32MaxWindowAVX512 is MaxWindow for channels [0, cv), cv a positive
// multiple of 16 and ntaps >= 1, with AVX-512F:
//
//	for c := 0; c < cv; c++ {
//		o[c], a[c] = img[offs[0]+c], offs[0]+c
//		for t := 1; t < ntaps; t++ {
//			if v := img[offs[t]+c]; v > o[c] { // ordered: false for NaN
//				o[c], a[c] = v, offs[t]+c
//			}
//		}
//	}
//
//go:noescape
func f32MaxWindowAVX512(img *float32, offs *int32, ntaps int, o *float32, a *int32, cv int)

// f32RouteMaxAVX512 is RouteMax for channels [0, cv), cv a positive
// multiple of 16 and ntaps >= 1, with AVX-512F:
//
//	for t := 0; t < ntaps; t++ {
//		for c := 0; c < cv; c++ {
//			var v float32
//			if arg[c] == offs[t]+c {
//				v += grad[c]
//			}
//			dIn[offs[t]+c] = v
//		}
//	}
//
//go:noescape
func f32RouteMaxAVX512(dIn, grad *float32, arg, offs *int32, ntaps, cv int)
