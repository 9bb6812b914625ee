package lite

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
// are kept.
// in (N,H,W,C) -> out (N,OH,OW,C)
type maxPoolKernel struct {
	it      *Interpreter
	in, out int
	g       poolGeom
}

func newMaxPool(it *Interpreter, op *Op) *maxPoolKernel {
	return &maxPoolKernel{it: it, in: op.Inputs[0], out: op.Output, g: newPoolGeom(it, op)}
}

func (k *maxPoolKernel) alloc(int) {}

func (k *maxPoolKernel) run(n int) {
	g := k.g
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	for b := 0; b < n; b++ {
		for oy := 0; oy < g.oh; oy++ {
			for ox := 0; ox < g.ow; ox++ {
				yr := y[((b*g.oh+oy)*g.ow+ox)*g.c:][:g.c]
				for c := range yr {
					yr[c] = -128
				}
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
						xr := x[((b*g.h+iy)*g.w+ix)*g.c:][:g.c]
						for c, v := range xr {
							yr[c] = max(yr[c], v)
						}
					}
				}
			}
		}
	}
}
