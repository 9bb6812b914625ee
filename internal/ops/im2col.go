package ops

import "github.com/goqat/goqat/internal/kernels"

// parGrain returns a ParallelFor grain for items that each cost about
// work scalar operations, so that a chunk holds at least ~16K operations.
func parGrain(work int) int {
	return max(1, (16<<10)/max(work, 1))
}

// Im2col writes the im2col matrix of images [n0, n1) of in to col, so that
// a convolution becomes one GEMM:
//
//	out((n1-n0)*OH*OW, OC) = col((n1-n0)*OH*OW, KH*KW*C) x w(KH*KW*C, OC)
//
// with weights stored (KH, KW, C, OC) as Keras does. in is (N, H, W, C); row
// ((n-n0)*OH+oh)*OW+ow of col holds the window of output pixel (n, oh, ow) in
// (kh, kw, c) order, with zeros where the window reaches into the padding.
// With dilation the taps are (DH, DW) apart. With G channel groups (weights
// (KH, KW, C/G, OC)) the row holds the window of group 0's channels, then
// group 1's, ... (order g, kh, kw, c in the group), so that group g's
// product reads the KH*KW*C/G columns from g*KH*KW*C/G with stride
// KH*KW*C. col must hold at least (n1-n0)*OH*OW*KH*KW*C values. Rows are
// split across threads by (image, output row).
func Im2col(g Geom, in, col []float32, n0, n1 int) {
	im2col(g, in, col, n0, n1, false)
}

// Im2colStream is Im2col with streaming (non-temporal) stores for the
// runs of at least 16 channels that kernels.CopyRowsNT can stream: for a
// col matrix larger than the caches that is kept for later (Conv2D keeps
// the whole batch's for Backward), it writes memory without first reading
// every line into the cache. The values are those of Im2col.
func Im2colStream(g Geom, in, col []float32, n0, n1 int) {
	im2col(g, in, col, n0, n1, true)
}

// Im2colSerial is Im2col on the calling goroutine alone, for callers that
// already split their work across threads (one part of a
// kernels.ParallelFor per group of images). The values are Im2col's.
func Im2colSerial(g Geom, in, col []float32, n0, n1 int) {
	plain := g.Plain()
	for r := 0; r < (n1-n0)*g.OH; r++ {
		if !plain {
			im2colRowGeneral(g, in, col, n0, n0+r/g.OH, r%g.OH)
			continue
		}
		im2colRow(g, in, col, n0, n0+r/g.OH, r%g.OH, false)
	}
}

func im2col(g Geom, in, col []float32, n0, n1 int, stream bool) {
	rows := (n1 - n0) * g.OH
	plain := g.Plain()
	kernels.ParallelFor(rows, parGrain(g.OW*g.ColCols()), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if !plain {
				im2colRowGeneral(g, in, col, n0, n0+r/g.OH, r%g.OH)
				continue
			}
			im2colRow(g, in, col, n0, n0+r/g.OH, r%g.OH, stream)
		}
	})
}

// im2colRow writes the OW col rows of output row oh of image n, one kh
// slice (KW*C values, contiguous in both the input row and the col row) at
// a time.
func im2colRow(g Geom, in, col []float32, n0, n, oh int, stream bool) {
	C, KW, W := g.C, g.KW, g.W
	K := g.ColCols()
	seg := KW * C // one kh slice of a col row
	img := in[n*g.H*W*C : (n+1)*g.H*W*C]
	rows := col[((n-n0)*g.OH+oh)*g.OW*K : ((n-n0)*g.OH+oh+1)*g.OW*K]
	// Output columns [owLo, owHi) have their whole window row inside the
	// image; the others reach into the left or right padding.
	owLo, owHi := outRange(0, g.SW, g.PadL, W, g.OW)
	if _, hi := outRange(KW-1, g.SW, g.PadL, W, g.OW); hi < owHi {
		owHi = hi
	}
	if owHi < owLo {
		owHi = owLo
	}
	// A window wider than the image with 'same' padding may have no column
	// inside it at all: outRange's lo is then past the last column.
	owLo, owHi = min(owLo, g.OW), min(owHi, g.OW)
	for kh := 0; kh < g.KH; kh++ {
		ih := oh*g.SH - g.PadT + kh
		if ih < 0 || ih >= g.H {
			for ow := 0; ow < g.OW; ow++ {
				clear(rows[ow*K+kh*seg : ow*K+(kh+1)*seg])
			}
			continue
		}
		src := img[ih*W*C : (ih+1)*W*C]
		for ow := 0; ow < owLo; ow++ {
			im2colEdge(g, rows[ow*K+kh*seg:ow*K+(kh+1)*seg], src, ow)
		}
		if seg <= 16 {
			for ow := owLo; ow < owHi; ow++ {
				d := rows[ow*K+kh*seg : ow*K+(kh+1)*seg]
				s := src[(ow*g.SW-g.PadL)*C:]
				s = s[:len(d)]
				for i := range d {
					d[i] = s[i]
				}
			}
		} else if stream && owHi > owLo {
			so := (owLo*g.SW - g.PadL) * C
			kernels.CopyRowsNT(rows[owLo*K+kh*seg:], src[so:], owHi-owLo, seg, K, g.SW*C)
		} else {
			for ow := owLo; ow < owHi; ow++ {
				so := (ow*g.SW - g.PadL) * C
				copy(rows[ow*K+kh*seg:ow*K+(kh+1)*seg], src[so:so+seg])
			}
		}
		for ow := max(owHi, owLo); ow < g.OW; ow++ {
			im2colEdge(g, rows[ow*K+kh*seg:ow*K+(kh+1)*seg], src, ow)
		}
	}
}

// im2colRowGeneral is im2colRow for a geometry that is not plain
// (dilation, channel groups): the col row of output pixel (n, oh, ow)
// holds at column g*KH*KW*Cg + (kh*KW+kw)*Cg + c the input value (n,
// oh*SH-PadT+kh*DH, ow*SW-PadL+kw*DW, g*Cg+c), 0 in the padding, where Cg
// = C/G. One tap of one group (Cg values) is copied at a time.
func im2colRowGeneral(g Geom, in, col []float32, n0, n, oh int) {
	dh, dw := g.Dilation()
	G := g.Groups()
	C, W := g.C, g.W
	cg := C / G
	K := g.ColCols()
	kg := g.KH * g.KW * cg // one group's share of a col row
	img := in[n*g.H*W*C : (n+1)*g.H*W*C]
	rows := col[((n-n0)*g.OH+oh)*g.OW*K : ((n-n0)*g.OH+oh+1)*g.OW*K]
	for ow := 0; ow < g.OW; ow++ {
		row := rows[ow*K : (ow+1)*K]
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.SH - g.PadT + kh*dh
			for kw := 0; kw < g.KW; kw++ {
				iw := ow*g.SW - g.PadL + kw*dw
				t := (kh*g.KW + kw) * cg
				if ih < 0 || ih >= g.H || iw < 0 || iw >= W {
					for gi := 0; gi < G; gi++ {
						clear(row[gi*kg+t : gi*kg+t+cg])
					}
					continue
				}
				src := img[(ih*W+iw)*C : (ih*W+iw+1)*C]
				for gi := 0; gi < G; gi++ {
					copyShort(row[gi*kg+t:gi*kg+t+cg], src[gi*cg:(gi+1)*cg])
				}
			}
		}
	}
}

// im2colEdge writes the kh slice d (KW*C values) of output column ow whose
// window reaches into the left or right padding; src is the input row.
func im2colEdge(g Geom, d, src []float32, ow int) {
	C := g.C
	iw0 := ow*g.SW - g.PadL
	for kw := 0; kw < g.KW; kw++ {
		dd := d[kw*C : (kw+1)*C]
		if iw := iw0 + kw; iw >= 0 && iw < g.W {
			copyShort(dd, src[iw*C:(iw+1)*C])
		} else {
			clear(dd)
		}
	}
}

// copyShort is copy(d, s) for len(d) == len(s), with a plain loop for the
// short segments (a few channels) where calling memmove costs more than the
// copy.
func copyShort(d, s []float32) {
	if len(d) > 16 {
		copy(d, s)
		return
	}
	s = s[:len(d)]
	for i := range d {
		d[i] = s[i]
	}
}

// Col2im is the adjoint of Im2col: it writes to images [n0, n1) of dIn (N,
// H, W, C) the sum, over every col entry that Im2col copied from an input
// element, of that entry (entries that came from the padding are dropped).
// col holds (n1-n0)*OH*OW rows of KH*KW*C values, e.g. dCol = dOut x w^T.
// dIn is overwritten, not accumulated into. Each input row (n, ih) is
// gathered by one goroutine, each element summing its taps in (kh, kw)
// order, so the result is race-free and independent of the thread count.
func Col2im(g Geom, col, dIn []float32, n0, n1 int) {
	rows := (n1 - n0) * g.H
	work := g.W * g.C * max(1, g.KH*g.KW/(g.SH*g.SW))
	plain := g.Plain()
	kernels.ParallelFor(rows, parGrain(work), func(lo, hi int) {
		var taps [maxTaps]int
		for r := lo; r < hi; r++ {
			if !plain {
				col2imRowGeneral(g, col, dIn, n0, n0+r/g.H, r%g.H)
				continue
			}
			col2imRow(g, col, dIn, n0, n0+r/g.H, r%g.H, taps[:])
		}
	})
}

// Col2imSerial is Col2im on the calling goroutine alone, for callers that
// already split their work across threads. The values are Col2im's.
func Col2imSerial(g Geom, col, dIn []float32, n0, n1 int) {
	var taps [maxTaps]int
	plain := g.Plain()
	for r := 0; r < (n1-n0)*g.H; r++ {
		if !plain {
			col2imRowGeneral(g, col, dIn, n0, n0+r/g.H, r%g.H)
			continue
		}
		col2imRow(g, col, dIn, n0, n0+r/g.H, r%g.H, taps[:])
	}
}

// maxTaps bounds the window taps (KH*KW) that col2imRow gathers per
// pixel from a stack buffer; larger windows take the scatter path.
const maxTaps = 64

// col2imRow gathers input row ih of image n: for every pixel it lists the
// col offsets of its taps, then kernels.SumTaps sums them channel by
// channel in registers (AVX-512 or Go, the same bits), so each dIn value is
// stored once.
func col2imRow(g Geom, col, dIn []float32, n0, n, ih int, taps []int) {
	if g.KH*g.KW > len(taps) || g.C < 8 {
		// Few channels: listing taps per pixel costs more than adding.
		col2imRowScatter(g, col, dIn, n0, n, ih)
		return
	}
	C, W := g.C, g.W
	dst := dIn[((n*g.H)+ih)*W*C : ((n*g.H)+ih+1)*W*C]
	for iw := 0; iw < W; iw++ {
		kernels.SumTaps(dst[iw*C:(iw+1)*C], col, g.Col2imTaps(n0, n, ih, iw, taps))
	}
}

// Col2imTaps lists in taps, in (kh, kw) order, the offsets in col (the
// im2col matrix of images n0.. as Im2col lays it out) of the taps that read
// input pixel (ih, iw) of image n, and returns them; taps holds at least
// KH*KW values.
func (g Geom) Col2imTaps(n0, n, ih, iw int, taps []int) []int {
	KW := g.KW
	K := g.ColCols()
	nt := 0
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh
		if num < 0 || (g.SH > 1 && num%g.SH != 0) {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		rowBase := ((n-n0)*g.OH + oh) * g.OW
		for kw := 0; kw < KW; kw++ {
			num := iw + g.PadL - kw
			if num < 0 || (g.SW > 1 && num%g.SW != 0) {
				continue
			}
			ow := num / g.SW
			if ow >= g.OW {
				continue
			}
			taps[nt] = (rowBase+ow)*K + (kh*KW+kw)*g.C
			nt++
		}
	}
	return taps[:nt]
}

// col2imRowScatter gathers input row ih of image n by adding each col
// row's segments into it (for few channels or windows of more than maxTaps
// taps). Output columns go from the last to the first so that each element
// receives its taps in (kh, kw) order, as col2imRow sums them.
func col2imRowScatter(g Geom, col, dIn []float32, n0, n, ih int) {
	C, KW, W := g.C, g.KW, g.W
	K := g.ColCols()
	seg := KW * C
	dst := dIn[((n*g.H)+ih)*W*C : ((n*g.H)+ih+1)*W*C]
	clear(dst)
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh
		if num < 0 || num%g.SH != 0 {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		base := ((n-n0)*g.OH + oh) * g.OW * K
		for ow := g.OW - 1; ow >= 0; ow-- { // kw ascending for each element
			src := col[base+ow*K+kh*seg : base+ow*K+(kh+1)*seg]
			iw0 := ow*g.SW - g.PadL
			if iw0 >= 0 && iw0+KW <= W {
				if seg <= 16 {
					d := dst[iw0*C : iw0*C+seg]
					for i, v := range src {
						d[i] += v
					}
				} else {
					addTo(dst[iw0*C:iw0*C+seg], src)
				}
				continue
			}
			for kw := 0; kw < KW; kw++ {
				if iw := iw0 + kw; iw >= 0 && iw < W {
					addTo(dst[iw*C:(iw+1)*C], src[kw*C:(kw+1)*C])
				}
			}
		}
	}
}

// col2imRowGeneral is col2imRow for a geometry that is not plain
// (dilation, channel groups; the col layout of im2colRowGeneral): each
// element of input row ih of image n sums its taps in (kh, kw) order.
func col2imRowGeneral(g Geom, col, dIn []float32, n0, n, ih int) {
	dh, dw := g.Dilation()
	G := g.Groups()
	C, W := g.C, g.W
	cg := C / G
	K := g.ColCols()
	kg := g.KH * g.KW * cg
	dst := dIn[((n*g.H)+ih)*W*C : ((n*g.H)+ih+1)*W*C]
	clear(dst)
	for kh := 0; kh < g.KH; kh++ {
		num := ih + g.PadT - kh*dh
		if num < 0 || num%g.SH != 0 {
			continue
		}
		oh := num / g.SH
		if oh >= g.OH {
			continue
		}
		base := ((n-n0)*g.OH + oh) * g.OW * K
		for iw := 0; iw < W; iw++ {
			d := dst[iw*C : (iw+1)*C]
			for kw := 0; kw < g.KW; kw++ {
				num := iw + g.PadL - kw*dw
				if num < 0 || num%g.SW != 0 {
					continue
				}
				ow := num / g.SW
				if ow >= g.OW {
					continue
				}
				src := col[base+ow*K+(kh*g.KW+kw)*cg : base+(ow+1)*K]
				for gi := 0; gi < G; gi++ {
					addTo(d[gi*cg:(gi+1)*cg], src[gi*kg:gi*kg+cg])
				}
			}
		}
	}
}

// addTo sets d[i] += s[i] for len(d) == len(s).
func addTo(d, s []float32) {
	s = s[:len(d)]
	i := 0
	for ; i+8 <= len(d); i += 8 {
		dd := d[i : i+8 : i+8]
		ss := s[i : i+8 : i+8]
		dd[0] += ss[0]
		dd[1] += ss[1]
		dd[2] += ss[2]
		dd[3] += ss[3]
		dd[4] += ss[4]
		dd[5] += ss[5]
		dd[6] += ss[6]
		dd[7] += ss[7]
	}
	for ; i < len(d); i++ {
		d[i] += s[i]
	}
}
