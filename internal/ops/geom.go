// Package ops holds goqat's float32 NHWC layout kernels for the convolution
// family and pooling: im2col/col2im (the packing that turns a convolution into
// one GEMM), depthwise convolution, max/average/global-average pooling and
// zero padding, each with its backward pass. Tensors are batch first and
// channels innermost: element (n, h, w, c) of an (N, H, W, C) tensor is at
// ((n*H+h)*W+w)*C+c.
//
// Work is split with kernels.ParallelFor only over independent outputs, and
// every reduction is summed in an order fixed by the shapes alone, so results
// are bit for bit the same for any kernels.Threads().
package ops

// Geom is the geometry of a 2-D sliding window (a convolution or pooling
// window) over a batch of NHWC images: input (N, H, W, C), window (KH, KW),
// strides (SH, SW), dilation (DH, DW), explicit zero padding on each side,
// and output spatial size (OH, OW). Tap (kh, kw) of output pixel (oh, ow)
// reads input pixel (oh*SH-PadT+kh*DH, ow*SW-PadL+kw*DW).
//
// The zero values of DH, DW, G and M mean 1, so that a Geom built without
// them (pools, NewGeom) is the plain geometry; the layout helpers take a
// slower general path only for a geometry that is not plain (see Plain).
type Geom struct {
	N, H, W, C             int // input batch, height, width, channels
	KH, KW                 int // window size
	SH, SW                 int // strides
	PadT, PadB, PadL, PadR int // padding: top, bottom, left, right
	OH, OW                 int // output height and width
	DH, DW                 int // dilation (Keras's dilation_rate); 0 or 1: none
	// G is the number of channel groups of a grouped convolution (0 or 1:
	// one): the im2col row of a pixel holds the taps of group 0's C/G
	// channels, then group 1's, and so on (see Im2col).
	G int
	// M is the depth multiplier of a depthwise convolution (0 or 1: one):
	// input channel c feeds output channels c*M .. c*M+M-1.
	M int
}

// SamePadding returns the Keras/TensorFlow 'same' padding of one spatial
// dimension of size in for a window k and stride s: the total is
// max((ceil(in/s)-1)*s + k - in, 0), split with the smaller half before.
func SamePadding(in, k, s int) (before, after int) {
	out := (in + s - 1) / s
	total := max((out-1)*s+k-in, 0)
	return total / 2, total - total/2
}

// NewGeom returns the geometry of a window (kh, kw) with strides (sh, sw)
// over n images of (h, w, c), with 'same' padding if same is true and no
// padding ('valid') otherwise. Sizes must be positive and, for 'valid', the
// window must fit; the caller validates.
func NewGeom(n, h, w, c, kh, kw, sh, sw int, same bool) Geom {
	var pt, pb, pl, pr int
	if same {
		pt, pb = SamePadding(h, kh, sh)
		pl, pr = SamePadding(w, kw, sw)
	}
	return NewGeomPadded(n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr)
}

// NewGeomPadded returns the geometry of a window (kh, kw) with strides (sh,
// sw) over n images of (h, w, c) padded with pt, pb, pl, pr zeros on the
// top, bottom, left and right.
func NewGeomPadded(n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr int) Geom {
	return Geom{
		N: n, H: h, W: w, C: c, KH: kh, KW: kw, SH: sh, SW: sw,
		PadT: pt, PadB: pb, PadL: pl, PadR: pr,
		OH: (h+pt+pb-kh)/sh + 1,
		OW: (w+pl+pr-kw)/sw + 1,
	}
}

// DilatedSize is the extent of a window of k taps with dilation d (0 or 1:
// none): (k-1)*d + 1.
func DilatedSize(k, d int) int { return (k-1)*max(d, 1) + 1 }

// NewGeomDilated is NewGeom for a window whose taps are dh rows and dw
// columns apart: 'same' padding and the output size are those of the
// dilated window, (KH-1)*DH+1 by (KW-1)*DW+1, as in Keras and TensorFlow.
// For 'valid' the dilated window must fit; the caller validates.
func NewGeomDilated(n, h, w, c, kh, kw, sh, sw, dh, dw int, same bool) Geom {
	ekh, ekw := DilatedSize(kh, dh), DilatedSize(kw, dw)
	var pt, pb, pl, pr int
	if same {
		pt, pb = SamePadding(h, ekh, sh)
		pl, pr = SamePadding(w, ekw, sw)
	}
	g := NewGeomPadded(n, h, w, c, kh, kw, sh, sw, pt, pb, pl, pr)
	g.DH, g.DW = dh, dw
	g.OH = (h+pt+pb-ekh)/sh + 1
	g.OW = (w+pl+pr-ekw)/sw + 1
	return g
}

// Dilation returns the dilation (DH, DW), zeros read as 1.
func (g Geom) Dilation() (dh, dw int) { return max(g.DH, 1), max(g.DW, 1) }

// Groups returns the number of channel groups, G (0 read as 1).
func (g Geom) Groups() int { return max(g.G, 1) }

// Multiplier returns the depth multiplier, M (0 read as 1).
func (g Geom) Multiplier() int { return max(g.M, 1) }

// Plain reports whether the geometry has no dilation, one channel group and
// depth multiplier 1: the geometry of the layout helpers' fast paths.
func (g Geom) Plain() bool { return g.DH <= 1 && g.DW <= 1 && g.G <= 1 && g.M <= 1 }

// WithBatch returns g for a batch of n images.
func (g Geom) WithBatch(n int) Geom {
	g.N = n
	return g
}

// InSize is the number of input values, N*H*W*C.
func (g Geom) InSize() int { return g.N * g.H * g.W * g.C }

// OutPixels is the number of output pixels of one image, OH*OW.
func (g Geom) OutPixels() int { return g.OH * g.OW }

// ColRows is the number of rows of the im2col matrix of the whole batch,
// N*OH*OW (one per output pixel).
func (g Geom) ColRows() int { return g.N * g.OH * g.OW }

// ColCols is the length of one im2col row, KH*KW*C (order kh, kw, c; with
// G groups, order group, kh, kw, channel of the group).
func (g Geom) ColCols() int { return g.KH * g.KW * g.C }

// IsPointwise reports whether the window is 1x1 with stride 1 and no
// padding: then the input, viewed as (N*H*W, C), is its own im2col matrix
// (with groups too: a 1x1 window's group-major order is the channel
// order; dilation does not move a single tap).
func (g Geom) IsPointwise() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 &&
		g.PadT == 0 && g.PadB == 0 && g.PadL == 0 && g.PadR == 0
}

// outRange returns the range [lo, hi) of output positions o (along one
// dimension with stride s and leading padding pad, output size out) whose
// window tap k lands inside the input of size in: 0 <= o*s-pad+k < in.
func outRange(k, s, pad, in, out int) (lo, hi int) {
	// o*s >= pad-k  ->  o >= ceil((pad-k)/s)
	d := pad - k
	if d > 0 {
		lo = (d + s - 1) / s
	}
	// o*s <= in-1+pad-k  ->  o <= floor((in-1+pad-k)/s)
	e := in - 1 + pad - k
	if e < 0 {
		return lo, lo
	}
	hi = min(e/s+1, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// WindowOffsets appends to offs[:0] the offsets ((ih*W+iw)*C) in an image of
// the window cells of output pixel (oh, ow) that lie inside the image, in
// row-major tap order, and returns the slice.
func (g Geom) WindowOffsets(offs []int32, oh, ow int) []int32 {
	offs = offs[:0]
	for kh := 0; kh < g.KH; kh++ {
		ih := oh*g.SH - g.PadT + kh
		if ih < 0 || ih >= g.H {
			continue
		}
		for kw := 0; kw < g.KW; kw++ {
			if iw := ow*g.SW - g.PadL + kw; iw >= 0 && iw < g.W {
				offs = append(offs, int32((ih*g.W+iw)*g.C))
			}
		}
	}
	return offs
}
