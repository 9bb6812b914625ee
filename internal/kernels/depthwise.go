package kernels

import (
	"fmt"
	"sync/atomic"
)

// The float32 depthwise convolution with depth multiplier 1 and no
// dilation (every MobileNet's), over NHWC images, output rows at a time:
//
//	out[n,oh,ow,c] = b[c] + sum_{kh,kw} in[n, oh*SH-PadT+kh, ow*SW-PadL+kw, c] * w[kh,kw,c]
//
// the taps outside the image skipped (zero padding), each product rounded
// to float32 and then added, bias first and the taps in (kh, kw) order: the
// arithmetic of internal/ops.DepthwiseForward, which the training layer
// runs, bit for bit. The AVX512 path keeps 16 channels in each vector lane
// group and computes runs of output pixels that share their in-image taps
// with AVX-512F multiplications and additions (no fused multiply-add, so
// the same roundings as the Go loop); a channel count that is not a
// multiple of 16 is masked, and padding is handled by narrowing the taps
// of the edge pixels, never by copying. Other paths run the Go loop, the
// specification (docs/DESIGN.md, Runtime and kernels).

// DWGeom is the geometry of a depthwise convolution: input images (H, W, C),
// output (OH, OW, C), window (KH, KW), strides (SH, SW) and the padding
// before the first row and column (PadT, PadL; the padding after is what
// the output size implies). Tap (kh, kw) of output pixel (oh, ow) reads
// input pixel (oh*SH-PadT+kh, ow*SW-PadL+kw).
type DWGeom struct {
	H, W, C    int
	OH, OW     int
	KH, KW     int
	SH, SW     int
	PadT, PadL int
}

// dwCalls counts, per path, the DepthwiseRows calls that ran that path's
// code (for the test that fails if a path the CPU supports did not run).
var dwCalls [numPaths]atomic.Int64

// check panics unless the geometry is positive and the slices hold n
// images (in), the kernel (w), the bias (b, unless nil) and rows [r0, r1)
// of out: the assembly relies on it.
func (g DWGeom) check(in, w, b, out []float32, r0, r1 int) {
	if g.H <= 0 || g.W <= 0 || g.C <= 0 || g.OH <= 0 || g.OW <= 0 || g.KH <= 0 || g.KW <= 0 || g.SH <= 0 || g.SW <= 0 || g.PadT < 0 || g.PadL < 0 {
		panic(fmt.Sprintf("kernels: depthwise geometry %+v", g))
	}
	n := (r1 + g.OH - 1) / g.OH // images touched
	switch {
	case r0 < 0 || r1 < r0:
		panic(fmt.Sprintf("kernels: depthwise rows [%d, %d)", r0, r1))
	case len(in) < n*g.H*g.W*g.C:
		panic(fmt.Sprintf("kernels: depthwise input of %d values, want %d images of %dx%dx%d", len(in), n, g.H, g.W, g.C))
	case len(w) < g.KH*g.KW*g.C:
		panic(fmt.Sprintf("kernels: depthwise kernel of %d values, want %dx%dx%d", len(w), g.KH, g.KW, g.C))
	case b != nil && len(b) < g.C:
		panic(fmt.Sprintf("kernels: depthwise bias of %d values, want %d", len(b), g.C))
	case len(out) < r1*g.OW*g.C:
		panic(fmt.Sprintf("kernels: depthwise output of %d values, want %d rows of %dx%d", len(out), r1, g.OW, g.C))
	}
}

// tapRange returns the taps [k0, k1) of a window of k taps, starting at
// input position o (maybe negative), that fall inside [0, size).
func tapRange(o, k, size int) (k0, k1 int) {
	k0 = max(0, -o)
	k1 = min(k, size-o)
	if k1 < k0 {
		k1 = k0
	}
	return k0, k1
}

// DepthwiseRows computes output rows [r0, r1) of a depthwise convolution of
// geometry g, rows numbered n*OH+oh across the batch: in (N,H,W,C), w
// (KH,KW,C), b (C) or nil for no bias, out (N,OH,OW,C). It runs on the
// calling goroutine; callers split rows across threads.
func DepthwiseRows(g DWGeom, in, w, b, out []float32, r0, r1 int) {
	g.check(in, w, b, out, r0, r1)
	asm := ActivePath() == AVX512
	if asm {
		dwCalls[AVX512].Add(1)
	} else {
		dwCalls[Generic].Add(1)
	}
	C := g.C
	for r := r0; r < r1; r++ {
		n, oh := r/g.OH, r%g.OH
		ih := oh*g.SH - g.PadT
		kh0, kh1 := tapRange(ih, g.KH, g.H)
		orow := out[r*g.OW*C : (r+1)*g.OW*C]
		img := in[n*g.H*g.W*C : (n+1)*g.H*g.W*C]
		// Runs of pixels whose taps in the image are the same columns:
		// the left edge pixel by pixel, the interior at once, the right
		// edge.
		for ow := 0; ow < g.OW; {
			iw := ow*g.SW - g.PadL
			kw0, kw1 := tapRange(iw, g.KW, g.W)
			end := ow + 1
			for end < g.OW {
				a, e := tapRange(end*g.SW-g.PadL, g.KW, g.W)
				if a != kw0 || e != kw1 {
					break
				}
				end++
			}
			run := dwRun{out: orow[ow*C:], g: &g, n: end - ow, b: b}
			if kh1 > kh0 && kw1 > kw0 {
				run.rows, run.cols = kh1-kh0, kw1-kw0
				run.x = img[((ih+kh0)*g.W+iw+kw0)*C:]
				run.w = w[(kh0*g.KW+kw0)*C:]
			} // else no tap in the image: the bias alone
			if asm {
				run.avx512()
			} else {
				run.goLoop()
			}
			ow = end
		}
	}
}

// dwRun is a run of n consecutive output pixels of one row whose taps in
// the image are rows x cols taps starting at x (the first pixel's first
// tap in the image) and w (that tap's weights); pixel p's input is
// SW*C values after pixel p-1's.
type dwRun struct {
	out        []float32
	g          *DWGeom
	n          int
	rows, cols int
	x, w, b    []float32
}

// goLoop computes the run with the Go loop: the specification.
func (r *dwRun) goLoop() {
	g, C := r.g, r.g.C
	for p := 0; p < r.n; p++ {
		o := r.out[p*C : (p+1)*C]
		if r.b != nil {
			copy(o, r.b[:C])
		} else {
			clear(o)
		}
		for i := 0; i < r.rows; i++ {
			for j := 0; j < r.cols; j++ {
				xo := p*g.SW*C + i*g.W*C + j*C
				x := r.x[xo : xo+C]
				wt := r.w[(i*g.KW+j)*C : (i*g.KW+j)*C+C]
				for c, v := range x {
					o[c] += float32(v * wt[c])
				}
			}
		}
	}
}

// avx512 computes the run with f32DepthwiseAVX512.
func (r *dwRun) avx512() {
	g, C := r.g, r.g.C
	var x, w, b *float32
	if r.rows > 0 {
		// The last values the run reads: the last pixel's last tap and
		// its weights.
		_ = r.x[(r.n-1)*g.SW*C+(r.rows-1)*g.W*C+r.cols*C-1]
		_ = r.w[((r.rows-1)*g.KW+r.cols)*C-1]
		x, w = &r.x[0], &r.w[0]
	}
	_ = r.out[r.n*C-1]
	if r.b != nil {
		b = &r.b[0]
	}
	f32DepthwiseAVX512(&r.out[0], x, w, b, r.n, C, r.rows, r.cols, g.SW*C, g.W*C, g.KW*C)
}
