package ops

import "github.com/goqat/goqat/internal/kernels"

// MaxPoolForward computes max pooling with window (KH, KW) and strides (SH,
// SW): out[n,oh,ow,c] is the largest in[n,ih,iw,c] over the window's cells
// inside the image (padding never wins, as in Keras 'same'). in (N,H,W,C),
// out (N,OH,OW,C). arg (N,OH,OW,C) receives, for backward, the index within
// its image ((ih*W+iw)*C+c) of the cell that won, the first in (kh, kw) order
// on ties. Every window must hold at least one input cell (true for 'valid'
// and 'same' padding). Output rows are split across threads.
func MaxPoolForward(g Geom, in, out []float32, arg []int32) {
	kernels.ParallelFor(g.N*g.OH, parGrain(g.OW*g.C*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			maxPoolRow(g, in, out, arg, r/g.OH, r%g.OH)
		}
	})
}

// MaxPoolImage is MaxPoolForward of one image on the calling goroutine:
// in (H,W,C), out and arg (OH,OW,C), g's batch ignored. The values and
// indices are MaxPoolForward's for that image.
func MaxPoolImage(g Geom, in, out []float32, arg []int32) {
	for oh := 0; oh < g.OH; oh++ {
		maxPoolRow(g, in, out, arg, 0, oh)
	}
}

// MaxPoolTiles reports whether g's windows tile the image (strides equal
// to the window, at most maxTaps cells): then each input cell belongs to
// at most one window, and MaxPoolBackwardImage applies.
func MaxPoolTiles(g Geom) bool {
	return g.SH == g.KH && g.SW == g.KW && g.KH*g.KW <= maxTaps
}

// MaxPoolBackwardImage is MaxPoolBackward of one image whose windows tile
// it (MaxPoolTiles), on the calling goroutine: dOut and arg (OH,OW,C) as
// MaxPoolImage left them, dIn (H,W,C) overwritten. The values are
// MaxPoolBackward's for that image.
func MaxPoolBackwardImage(g Geom, dOut []float32, arg []int32, dIn []float32) {
	maxRouteImage(g, dOut, arg, dIn[:g.H*g.W*g.C])
}

// maxPoolRow computes output row oh of image n: per output pixel it lists
// the offsets of the window's cells inside the image, in (kh, kw) order,
// and kernels.MaxWindow takes their maximum channel by channel (AVX-512 or
// Go, the same values and indices).
func maxPoolRow(g Geom, in, out []float32, arg []int32, n, oh int) {
	C, W := g.C, g.W
	img := in[n*g.H*W*C : (n+1)*g.H*W*C]
	o0 := (n*g.OH + oh) * g.OW * C
	var buf [maxTaps]int32
	offs := buf[:0]
	if g.KH*g.KW > maxTaps {
		offs = make([]int32, 0, g.KH*g.KW) // windows this large are rare
	}
	for ow := 0; ow < g.OW; ow++ {
		offs = g.WindowOffsets(offs, oh, ow)
		kernels.MaxWindow(img, offs, out[o0+ow*C:o0+(ow+1)*C], arg[o0+ow*C:o0+(ow+1)*C])
	}
}

// MaxPoolBackward sets dIn (N,H,W,C) to the gradient of max pooling: each
// dOut (N,OH,OW,C) value is added to the input cell recorded in arg by
// MaxPoolForward. Images are split across threads. When the windows tile
// the image (strides equal to the window, the usual pooling), each cell
// belongs to at most one window and kernels.RouteMax writes every cell
// once (the gradient or zero, with no clearing pass); otherwise each
// image is cleared and its outputs added in order, so overlapping windows
// are race-free and deterministic. Both give 0 + dOut, the same bits.
func MaxPoolBackward(g Geom, dOut []float32, arg []int32, dIn []float32) {
	per := g.H * g.W * g.C
	outPer := g.OH * g.OW * g.C
	tiled := MaxPoolTiles(g)
	kernels.ParallelFor(g.N, parGrain(per+outPer), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			d := dIn[n*per : (n+1)*per]
			a := arg[n*outPer : (n+1)*outPer]
			do := dOut[n*outPer : (n+1)*outPer]
			if tiled {
				maxRouteImage(g, do, a, d)
				continue
			}
			clear(d)
			for i, v := range do {
				d[a[i]] += v
			}
		}
	})
}

// maxRouteImage is MaxPoolBackward for one image whose windows tile it:
// the cells of each window get their gradient from kernels.RouteMax, and
// the rows and columns past the last window are cleared.
func maxRouteImage(g Geom, dOut []float32, arg []int32, d []float32) {
	C, W := g.C, g.W
	var buf [maxTaps]int32
	for oh := 0; oh < g.OH; oh++ {
		for ow := 0; ow < g.OW; ow++ {
			offs := g.WindowOffsets(buf[:0], oh, ow)
			o := (oh*g.OW + ow) * C
			kernels.RouteMax(d, dOut[o:o+C], arg[o:o+C], offs)
		}
	}
	// Cells no window covers: rows from hEnd, columns from wEnd.
	hEnd := min(g.H, max(0, g.OH*g.SH-g.PadT))
	wEnd := min(W, max(0, g.OW*g.SW-g.PadL))
	clear(d[hEnd*W*C:])
	if wEnd < W {
		for ih := 0; ih < hEnd; ih++ {
			clear(d[(ih*W+wEnd)*C : (ih+1)*W*C])
		}
	}
}

// AvgPoolForward computes average pooling with window (KH, KW) and strides
// (SH, SW): out[n,oh,ow,c] is the mean of in[n,ih,iw,c] over the window's
// cells inside the image (Keras semantics: with 'same' padding, padded cells
// are not counted). in (N,H,W,C), out (N,OH,OW,C). Cells are summed in (kh,
// kw) order; output rows are split across threads.
func AvgPoolForward(g Geom, in, out []float32) {
	kernels.ParallelFor(g.N*g.OH, parGrain(g.OW*g.C*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			avgPoolRow(g, in, out, r/g.OH, r%g.OH)
		}
	})
}

// windowCount is the number of the window's cells at output (oh, ow) that
// lie inside the image.
func windowCount(g Geom, oh, ow int) int {
	ih0, iw0 := oh*g.SH-g.PadT, ow*g.SW-g.PadL
	rows := min(ih0+g.KH, g.H) - max(ih0, 0)
	cols := min(iw0+g.KW, g.W) - max(iw0, 0)
	return rows * cols
}

// avgPoolRow computes output row oh of image n.
func avgPoolRow(g Geom, in, out []float32, n, oh int) {
	C, W := g.C, g.W
	img := in[n*g.H*W*C : (n+1)*g.H*W*C]
	o0 := (n*g.OH + oh) * g.OW * C
	for ow := 0; ow < g.OW; ow++ {
		o := out[o0+ow*C : o0+(ow+1)*C]
		clear(o)
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.SH - g.PadT + kh
			if ih < 0 || ih >= g.H {
				continue
			}
			for kw := 0; kw < g.KW; kw++ {
				iw := ow*g.SW - g.PadL + kw
				if iw < 0 || iw >= W {
					continue
				}
				addTo(o, img[(ih*W+iw)*C:(ih*W+iw+1)*C])
			}
		}
		cnt := float32(windowCount(g, oh, ow))
		for c := range o {
			o[c] /= cnt
		}
	}
}

// AvgPoolBackward sets dIn (N,H,W,C) to the gradient of average pooling
// given dOut (N,OH,OW,C): every cell of a window receives dOut divided by the
// window's count of inside cells. Each input row is gathered by one
// goroutine, summing windows in (kh, kw, ow) order.
func AvgPoolBackward(g Geom, dOut, dIn []float32) {
	kernels.ParallelFor(g.N*g.H, parGrain(g.W*g.C*g.KH*g.KW), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			avgPoolBackRow(g, dOut, dIn, r/g.H, r%g.H)
		}
	})
}

// avgPoolBackRow gathers input row ih of image n.
func avgPoolBackRow(g Geom, dOut, dIn []float32, n, ih int) {
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
			lo, hi := outRange(kw, g.SW, g.PadL, W, g.OW)
			for ow := lo; ow < hi; ow++ {
				iw := ow*g.SW - g.PadL + kw
				inv := 1 / float32(windowCount(g, oh, ow))
				d := drow[iw*C : (iw+1)*C]
				s := orow[ow*C : (ow+1)*C]
				for c := range d {
					d[c] += s[c] * inv
				}
			}
		}
	}
}

// GlobalAvgPoolForward sets out (N,C) to the mean of in (N,HW,C) over its
// HW pixels, summed in pixel order. Images are split across threads.
func GlobalAvgPoolForward(n, hw, c int, in, out []float32) {
	kernels.ParallelFor(n, parGrain(hw*c), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*c : (i+1)*c]
			clear(o)
			for p := 0; p < hw; p++ {
				addTo(o, in[(i*hw+p)*c:(i*hw+p+1)*c])
			}
			div := float32(hw)
			for j := range o {
				o[j] /= div
			}
		}
	})
}

// GlobalAvgPoolBackward sets dIn (N,HW,C) to the gradient of global average
// pooling: every pixel of image n receives dOut[n,:] / HW. dOut is (N,C).
func GlobalAvgPoolBackward(n, hw, c int, dOut, dIn []float32) {
	inv := 1 / float32(hw)
	kernels.ParallelFor(n, parGrain(hw*c), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := dIn[i*hw*c : (i+1)*hw*c]
			s := dOut[i*c : (i+1)*c]
			for j := range c {
				d[j] = s[j] * inv
			}
			for p := 1; p < hw; p++ {
				copy(d[p*c:(p+1)*c], d[:c])
			}
		}
	})
}
