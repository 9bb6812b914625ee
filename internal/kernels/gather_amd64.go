//go:build amd64 && !noasm

package kernels

// f32SumTapsAVX512 is SumTaps for channels [0, cv), cv a positive multiple
// of 16 and ntaps >= 1, with AVX-512F:
//
//	for c := 0; c < cv; c++ {
//		var acc float32 // +0
//		for t := 0; t < ntaps; t++ {
//			acc += src[offs[t]+c]
//		}
//		d[c] = acc
//	}
//
//go:noescape
func f32SumTapsAVX512(d, src *float32, offs *int, ntaps, cv int)

// f32SumTapsRunAVX512 is SumTapsRun for channels [0, cv), cv a positive
// multiple of 16, ntaps >= 1 and count >= 1, with AVX-512F (four pixels
// at a time):
//
//	for j := 0; j < count; j++ {
//		f32SumTapsAVX512(d+j*dstStep, src+j*srcStep, offs, ntaps, cv)
//	}
//
//go:noescape
func f32SumTapsRunAVX512(d, src *float32, offs *int, ntaps, cv, count, dstStep, srcStep int)
