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
// strides (SH, SW), explicit zero padding on each side, and output spatial
// size (OH, OW).
type Geom struct {
	N, H, W, C             int // input batch, height, width, channels
	KH, KW                 int // window size
	SH, SW                 int // strides
	PadT, PadB, PadL, PadR int // padding: top, bottom, left, right
	OH, OW                 int // output height and width
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

// ColCols is the length of one im2col row, KH*KW*C (order kh, kw, c).
func (g Geom) ColCols() int { return g.KH * g.KW * g.C }

// IsPointwise reports whether the window is 1x1 with stride 1 and no
// padding: then the input, viewed as (N*H*W, C), is its own im2col matrix.
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
