package lite

import "github.com/goqat/goqat/internal/qkernels"

// poolGeom is the window geometry shared by the pools.
type poolGeom struct {
	h, w, c, oh, ow        int
	kh, kw, sh, sw, pt, pl int
}

func newPoolGeom(it *Interpreter, op *Op) poolGeom {
	s, o := it.m.Tensors[op.Inputs[0]].Shape, it.m.Tensors[op.Output].Shape
	return poolGeom{h: s[0], w: s[1], c: s[2], oh: o[0], ow: o[1],
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2]}
}

// maxPoolKernel is MaxPool2D on int8 values (the order of quantized values
// is that of the reals); padded cells are ignored. Scale and zero point
// are kept. Channels run in vector lanes (qkernels.MaxRow); output rows
// are split across threads.
// in (N,H,W,C) -> out (N,OH,OW,C)
type maxPoolKernel struct {
	it      *Interpreter
	in, out int
	g       poolGeom
	x, y    []int8
	r       qkernels.Runner
	rowsFn  func(part, lo, hi int)
	offs    []int // the window's taps, (ky*W+kx)*C; nil if the window is taller than the image
	ox0     int   // the first output column whose window starts inside the image
	ox1     int   // one past the last whose window ends inside it (ox1 <= ox0: none)
}

func newMaxPool(it *Interpreter, op *Op) *maxPoolKernel {
	k := &maxPoolKernel{it: it, in: op.Inputs[0], out: op.Output, g: newPoolGeom(it, op)}
	k.rowsFn = k.rows
	k.r.Threads = it.threads
	g := k.g
	// The windows that lie inside the image (those of the interior columns
	// of a row whose window rows are all in it) run in one call per row;
	// their taps (at most H*W: a window taller than the image has none)
	// are listed once. Border windows take the per-pixel loop.
	if g.kh <= g.h && g.kw <= g.w && g.sw > 0 {
		k.offs = make([]int, 0, g.kh*g.kw)
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				k.offs = append(k.offs, (ky*g.w+kx)*g.c)
			}
		}
		k.ox0 = min((g.pl+g.sw-1)/g.sw, g.ow)     // ox*sw - pl >= 0
		k.ox1 = min((g.w-g.kw+g.pl)/g.sw+1, g.ow) // ox*sw - pl + kw <= w
	}
	return k
}

func (k *maxPoolKernel) alloc(int) {}

func (k *maxPoolKernel) run(n int) {
	k.x, k.y = k.it.i8[k.in], k.it.i8[k.out]
	k.r.For(n*k.g.oh, max(1, 16384/max(1, k.g.ow*k.g.c*k.g.kh*k.g.kw)), k.rowsFn)
	k.x, k.y = nil, nil
}

// rows computes output rows [lo, hi) of the batch (row = b*OH + oy).
func (k *maxPoolKernel) rows(_, lo, hi int) {
	g := k.g
	for r := lo; r < hi; r++ {
		b, oy := r/g.oh, r%g.oh
		if iy := oy*g.sh - g.pt; k.offs != nil && iy >= 0 && iy+g.kh <= g.h && k.ox1 > k.ox0 {
			// The row's interior windows in one call, then its borders.
			ix := k.ox0*g.sw - g.pl
			qkernels.MaxWindows(k.y[((b*g.oh+oy)*g.ow+k.ox0)*g.c:][:(k.ox1-k.ox0)*g.c], k.x[((b*g.h+iy)*g.w+ix)*g.c:], k.offs, k.ox1-k.ox0, g.c, g.sw*g.c)
			k.pixels(b, oy, 0, k.ox0)
			k.pixels(b, oy, k.ox1, g.ow)
			continue
		}
		k.pixels(b, oy, 0, g.ow)
	}
}

// pixels computes output pixels [ox0, ox1) of row oy of image b, window
// by window, skipping the taps outside the image.
func (k *maxPoolKernel) pixels(b, oy, ox0, ox1 int) {
	g := k.g
	for ox := ox0; ox < ox1; ox++ {
		yr := k.y[((b*g.oh+oy)*g.ow+ox)*g.c:][:g.c]
		first := true
		for ky := 0; ky < g.kh; ky++ {
			iy := oy*g.sh - g.pt + ky
			if iy < 0 || iy >= g.h {
				continue
			}
			for kx := 0; kx < g.kw; kx++ {
				ix := ox*g.sw - g.pl + kx
				if ix < 0 || ix >= g.w {
					continue
				}
				xr := k.x[((b*g.h+iy)*g.w+ix)*g.c:][:g.c]
				if first {
					copy(yr, xr)
					first = false
				} else {
					qkernels.MaxRow(yr, xr)
				}
			}
		}
		if first { // a window wholly in the padding
			for c := range yr {
				yr[c] = -128
			}
		}
	}
}
