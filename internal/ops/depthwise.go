package ops

import "github.com/goqat/goqat/internal/kernels"

// depthwiseChunks is the fixed number of image chunks whose partial weight
// gradients DepthwiseBackwardWeights sums in order (fewer for small batches):
// it depends on nothing but the batch size, so neither does the result.
const depthwiseChunks = 16

// DepthwiseForward computes a depthwise convolution with depth multiplier 1:
//
//	out[n,oh,ow,c] = b[c] + sum_{kh,kw} in[n, oh*SH-PadT+kh, ow*SW-PadL+kw, c] * w[kh,kw,c]
//
// in (N,H,W,C), w (KH,KW,C) (Keras's (KH,KW,C,1)), b (C) or nil for no bias,
// out (N,OH,OW,C). Taps are summed in (kh, kw) order after the bias; output
// rows are split across threads.
func DepthwiseForward(g Geom, in, w, b, out []float32) {
	kernels.ParallelFor(g.N*g.OH, parGrain(g.OW*g.C*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			depthwiseRow(g, in, w, b, out, r/g.OH, r%g.OH)
		}
	})
}

// depthwiseRow computes output row oh of image n.
func depthwiseRow(g Geom, in, w, b, out []float32, n, oh int) {
	C, W := g.C, g.W
	orow := out[(n*g.OH+oh)*g.OW*C : (n*g.OH+oh+1)*g.OW*C]
	if b != nil {
		for ow := 0; ow < g.OW; ow++ {
			copy(orow[ow*C:(ow+1)*C], b[:C])
		}
	} else {
		clear(orow)
	}
	for kh := 0; kh < g.KH; kh++ {
		ih := oh*g.SH - g.PadT + kh
		if ih < 0 || ih >= g.H {
			continue
		}
		irow := in[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
		for kw := 0; kw < g.KW; kw++ {
			wt := w[(kh*g.KW+kw)*C : (kh*g.KW+kw+1)*C]
			lo, hi := outRange(kw, g.SW, g.PadL, W, g.OW)
			for ow := lo; ow < hi; ow++ {
				iw := ow*g.SW - g.PadL + kw
				mulAddTo(orow[ow*C:(ow+1)*C], irow[iw*C:(iw+1)*C], wt)
			}
		}
	}
}

// mulAddTo sets d[i] += x[i]*y[i] for len(d) == len(x) == len(y).
func mulAddTo(d, x, y []float32) {
	x = x[:len(d)]
	y = y[:len(d)]
	i := 0
	for ; i+4 <= len(d); i += 4 {
		dd := d[i : i+4 : i+4]
		xx := x[i : i+4 : i+4]
		yy := y[i : i+4 : i+4]
		dd[0] += xx[0] * yy[0]
		dd[1] += xx[1] * yy[1]
		dd[2] += xx[2] * yy[2]
		dd[3] += xx[3] * yy[3]
	}
	for ; i < len(d); i++ {
		d[i] += x[i] * y[i]
	}
}

// DepthwiseBackwardInput sets dIn (N,H,W,C) to the gradient of a depthwise
// convolution's input given dOut (N,OH,OW,C) and w (KH,KW,C). Each input row
// is gathered by one goroutine, summing taps in (kh, kw, ow) order.
func DepthwiseBackwardInput(g Geom, dOut, w, dIn []float32) {
	kernels.ParallelFor(g.N*g.H, parGrain(g.W*g.C*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			depthwiseBackInRow(g, dOut, w, dIn, r/g.H, r%g.H)
		}
	})
}

// depthwiseBackInRow gathers input row ih of image n.
func depthwiseBackInRow(g Geom, dOut, w, dIn []float32, n, ih int) {
	C, W := g.C, g.W
	drow := dIn[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
	clear(drow)
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh
		if num < 0 || num%g.SH != 0 {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		orow := dOut[(n*g.OH+oh)*g.OW*C : (n*g.OH+oh+1)*g.OW*C]
		for kw := 0; kw < g.KW; kw++ {
			wt := w[(kh*g.KW+kw)*C : (kh*g.KW+kw+1)*C]
			lo, hi := outRange(kw, g.SW, g.PadL, W, g.OW)
			for ow := lo; ow < hi; ow++ {
				iw := ow*g.SW - g.PadL + kw
				mulAddTo(drow[iw*C:(iw+1)*C], orow[ow*C:(ow+1)*C], wt)
			}
		}
	}
}

// DepthwiseScratchSize is the length of the scratch buffer that
// DepthwiseBackwardWeights needs for geometry g.
func DepthwiseScratchSize(g Geom) int {
	return min(g.N, depthwiseChunks) * (g.KH*g.KW*g.C + g.C)
}

// DepthwiseBackwardWeights sets dW (KH,KW,C) and, if dB is not nil, dB (C)
// to the gradients of a depthwise convolution's weights and bias given its
// input in (N,H,W,C) and dOut (N,OH,OW,C). The batch is cut into a fixed
// number of image chunks (min(N, 16)) whose partial sums are computed in
// parallel into scratch (DepthwiseScratchSize(g) values) and then added in
// chunk order, so the result depends only on the shapes.
func DepthwiseBackwardWeights(g Geom, in, dOut, dW, dB, scratch []float32) {
	nc := min(g.N, depthwiseChunks)
	kw := g.KH * g.KW * g.C
	per := kw + g.C
	scratch = scratch[:nc*per]
	kernels.ParallelFor(nc, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part := scratch[i*per : (i+1)*per]
			clear(part)
			for n := i * g.N / nc; n < (i+1)*g.N/nc; n++ {
				depthwiseBackWImage(g, in, dOut, part[:kw], part[kw:], n, dB != nil)
			}
		}
	})
	copy(dW[:kw], scratch[:kw])
	for i := 1; i < nc; i++ {
		addTo(dW[:kw], scratch[i*per:i*per+kw])
	}
	if dB != nil {
		copy(dB[:g.C], scratch[kw:per])
		for i := 1; i < nc; i++ {
			addTo(dB[:g.C], scratch[i*per+kw:(i+1)*per])
		}
	}
}

// depthwiseBackWImage adds image n's contribution to the partial weight
// (and, if bias, bias) gradients pw (KH,KW,C) and pb (C).
func depthwiseBackWImage(g Geom, in, dOut, pw, pb []float32, n int, bias bool) {
	C, W := g.C, g.W
	for oh := 0; oh < g.OH; oh++ {
		orow := dOut[(n*g.OH+oh)*g.OW*C : (n*g.OH+oh+1)*g.OW*C]
		if bias {
			for ow := 0; ow < g.OW; ow++ {
				addTo(pb, orow[ow*C:(ow+1)*C])
			}
		}
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.SH - g.PadT + kh
			if ih < 0 || ih >= g.H {
				continue
			}
			irow := in[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
			for kw := 0; kw < g.KW; kw++ {
				acc := pw[(kh*g.KW+kw)*C : (kh*g.KW+kw+1)*C]
				lo, hi := outRange(kw, g.SW, g.PadL, W, g.OW)
				for ow := lo; ow < hi; ow++ {
					iw := ow*g.SW - g.PadL + kw
					mulAddTo(acc, orow[ow*C:(ow+1)*C], irow[iw*C:(iw+1)*C])
				}
			}
		}
	}
}
