package ops

import "github.com/goqat/goqat/internal/kernels"

// depthwiseChunks is the fixed number of image chunks whose partial weight
// gradients DepthwiseBackwardWeights sums in order (fewer for small batches):
// it depends on nothing but the batch size, so neither does the result.
const depthwiseChunks = 16

// DepthwiseForward computes a depthwise convolution with depth multiplier
// M (g.Multiplier()) and dilation (DH, DW):
//
//	out[n,oh,ow,c*M+m] = b[c*M+m] + sum_{kh,kw} in[n, oh*SH-PadT+kh*DH, ow*SW-PadL+kw*DW, c] * w[kh,kw,c*M+m]
//
// in (N,H,W,C), w (KH,KW,C*M) (Keras's (KH,KW,C,M)), b (C*M) or nil for no
// bias, out (N,OH,OW,C*M). Taps are summed in (kh, kw) order after the
// bias; output rows are split across threads.
func DepthwiseForward(g Geom, in, w, b, out []float32) {
	plain := g.Plain()
	kernels.ParallelFor(g.N*g.OH, parGrain(g.OW*g.C*g.Multiplier()*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if !plain {
				depthwiseRowGeneral(g, in, w, b, out, r/g.OH, r%g.OH)
				continue
			}
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

// depthwiseRowGeneral is depthwiseRow for a depth multiplier above 1 or a
// dilation.
func depthwiseRowGeneral(g Geom, in, w, b, out []float32, n, oh int) {
	C, W, M := g.C, g.W, g.Multiplier()
	CM := C * M
	dh, dw := g.Dilation()
	orow := out[(n*g.OH+oh)*g.OW*CM : (n*g.OH+oh+1)*g.OW*CM]
	if b != nil {
		for ow := 0; ow < g.OW; ow++ {
			copy(orow[ow*CM:(ow+1)*CM], b[:CM])
		}
	} else {
		clear(orow)
	}
	for kh := 0; kh < g.KH; kh++ {
		ih := oh*g.SH - g.PadT + kh*dh
		if ih < 0 || ih >= g.H {
			continue
		}
		irow := in[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
		for kw := 0; kw < g.KW; kw++ {
			wt := w[(kh*g.KW+kw)*CM : (kh*g.KW+kw+1)*CM]
			lo, hi := outRange(kw*dw, g.SW, g.PadL, W, g.OW)
			for ow := lo; ow < hi; ow++ {
				iw := ow*g.SW - g.PadL + kw*dw
				mulAddSpread(orow[ow*CM:(ow+1)*CM], irow[iw*C:(iw+1)*C], wt, M)
			}
		}
	}
}

// mulAddSpread sets d[c*m+j] += x[c]*y[c*m+j] for c < len(x), j < m
// (len(d) == len(y) == m*len(x)): each input channel times its m weights.
func mulAddSpread(d, x, y []float32, m int) {
	if m == 1 {
		mulAddTo(d, x, y)
		return
	}
	d, y = d[:len(x)*m], y[:len(x)*m]
	for c, xv := range x {
		dd, yy := d[c*m:(c+1)*m], y[c*m:(c+1)*m]
		for j := range dd {
			dd[j] += xv * yy[j]
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
// convolution's input given dOut (N,OH,OW,C*M) and w (KH,KW,C*M). Each
// input row is gathered by one goroutine, summing taps in (kh, kw, ow)
// order (then m, with a depth multiplier).
func DepthwiseBackwardInput(g Geom, dOut, w, dIn []float32) {
	plain := g.Plain()
	kernels.ParallelFor(g.N*g.H, parGrain(g.W*g.C*g.Multiplier()*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if !plain {
				depthwiseBackInRowGeneral(g, dOut, w, dIn, r/g.H, r%g.H)
				continue
			}
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

// depthwiseBackInRowGeneral is depthwiseBackInRow for a depth multiplier
// above 1 or a dilation.
func depthwiseBackInRowGeneral(g Geom, dOut, w, dIn []float32, n, ih int) {
	C, W, M := g.C, g.W, g.Multiplier()
	CM := C * M
	dh, dw := g.Dilation()
	drow := dIn[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
	clear(drow)
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh*dh
		if num < 0 || num%g.SH != 0 {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		orow := dOut[(n*g.OH+oh)*g.OW*CM : (n*g.OH+oh+1)*g.OW*CM]
		for kw := 0; kw < g.KW; kw++ {
			wt := w[(kh*g.KW+kw)*CM : (kh*g.KW+kw+1)*CM]
			lo, hi := outRange(kw*dw, g.SW, g.PadL, W, g.OW)
			for ow := lo; ow < hi; ow++ {
				iw := ow*g.SW - g.PadL + kw*dw
				d, o := drow[iw*C:(iw+1)*C], orow[ow*CM:(ow+1)*CM]
				if M == 1 {
					mulAddTo(d, o, wt)
					continue
				}
				for c := range d {
					oo, ww := o[c*M:(c+1)*M], wt[c*M:(c+1)*M]
					for j, v := range oo {
						d[c] += v * ww[j]
					}
				}
			}
		}
	}
}

// DepthwiseScratchSize is the length of the scratch buffer that
// DepthwiseBackwardWeights needs for geometry g.
func DepthwiseScratchSize(g Geom) int {
	cm := g.C * g.Multiplier()
	return min(g.N, depthwiseChunks) * (g.KH*g.KW*cm + cm)
}

// DepthwiseBackwardWeights sets dW (KH,KW,C*M) and, if dB is not nil, dB
// (C*M) to the gradients of a depthwise convolution's weights and bias
// given its input in (N,H,W,C) and dOut (N,OH,OW,C*M). The batch is cut into a fixed
// number of image chunks (min(N, 16)) whose partial sums are computed in
// parallel into scratch (DepthwiseScratchSize(g) values) and then added in
// chunk order, so the result depends only on the shapes.
func DepthwiseBackwardWeights(g Geom, in, dOut, dW, dB, scratch []float32) {
	nc := min(g.N, depthwiseChunks)
	cm := g.C * g.Multiplier()
	kw := g.KH * g.KW * cm
	per := kw + cm
	scratch = scratch[:nc*per]
	plain := g.Plain()
	kernels.ParallelFor(nc, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part := scratch[i*per : (i+1)*per]
			clear(part)
			for n := i * g.N / nc; n < (i+1)*g.N/nc; n++ {
				if !plain {
					depthwiseBackWImageGeneral(g, in, dOut, part[:kw], part[kw:], n, dB != nil)
					continue
				}
				depthwiseBackWImage(g, in, dOut, part[:kw], part[kw:], n, dB != nil)
			}
		}
	})
	copy(dW[:kw], scratch[:kw])
	for i := 1; i < nc; i++ {
		addTo(dW[:kw], scratch[i*per:i*per+kw])
	}
	if dB != nil {
		copy(dB[:cm], scratch[kw:per])
		for i := 1; i < nc; i++ {
			addTo(dB[:cm], scratch[i*per+kw:(i+1)*per])
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

// depthwiseBackWImageGeneral is depthwiseBackWImage for a depth multiplier
// above 1 or a dilation: pw (KH,KW,C*M), pb (C*M).
func depthwiseBackWImageGeneral(g Geom, in, dOut, pw, pb []float32, n int, bias bool) {
	C, W, M := g.C, g.W, g.Multiplier()
	CM := C * M
	dh, dw := g.Dilation()
	for oh := 0; oh < g.OH; oh++ {
		orow := dOut[(n*g.OH+oh)*g.OW*CM : (n*g.OH+oh+1)*g.OW*CM]
		if bias {
			for ow := 0; ow < g.OW; ow++ {
				addTo(pb, orow[ow*CM:(ow+1)*CM])
			}
		}
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.SH - g.PadT + kh*dh
			if ih < 0 || ih >= g.H {
				continue
			}
			irow := in[(n*g.H+ih)*W*C : (n*g.H+ih+1)*W*C]
			for kw := 0; kw < g.KW; kw++ {
				acc := pw[(kh*g.KW+kw)*CM : (kh*g.KW+kw+1)*CM]
				lo, hi := outRange(kw*dw, g.SW, g.PadL, W, g.OW)
				for ow := lo; ow < hi; ow++ {
					iw := ow*g.SW - g.PadL + kw*dw
					mulAddSpread(acc, irow[iw*C:(iw+1)*C], orow[ow*CM:(ow+1)*CM], M)
				}
			}
		}
	}
}
