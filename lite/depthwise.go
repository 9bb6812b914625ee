package lite

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
)

// dwKernel is DepthwiseConv2D (depth multiplier 1): each channel is
// convolved with its own window; padded taps contribute nothing. Channels
// run in vector lanes (qkernels.MulAddRow), a whole output row of
// accumulators is requantized by the vector output stage, and output rows
// are split across threads.
// in (N,H,W,C), w (KH,KW,C), bias (C) -> out (N,OH,OW,C)
type dwKernel struct {
	it                     *Interpreter
	in, out                int
	h, w, c, oh, ow        int
	kh, kw, sh, sw, pt, pl int
	wt                     []int8
	bias                   []int32
	zpIn                   int32
	o                      *qkernels.Output
	acc                    [][]int32 // per part: (OW, C)
	offs                   []int     // offset of each tap from the window's corner
	x, y                   []int8
	r                      qkernels.Runner
	rowsFn                 func(part, lo, hi int)
}

func newDepthwise(it *Interpreter, op *Op) (*dwKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	s, o := tin.Shape, tout.Shape
	k := &dwKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: s[2], oh: o[0], ow: o[1],
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2],
		wt: op.Weights, bias: op.Bias, zpIn: tin.ZeroPoint}
	mult, err := channelMultipliers(tin, tout, op.WeightScales, k.c)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(tout, op.Activation)
	if k.o, err = qkernels.NewChannelOutput(k.c, op.Bias, mult, tout.ZeroPoint, lo, hi); err != nil {
		return nil, err
	}
	for ky := 0; ky < k.kh; ky++ {
		for kx := 0; kx < k.kw; kx++ {
			k.offs = append(k.offs, (ky*k.w+kx)*k.c)
		}
	}
	k.rowsFn = k.rows
	return k, nil
}

func (k *dwKernel) grain() int { return max(1, 16384/max(1, k.ow*k.c*k.kh*k.kw)) }

func (k *dwKernel) alloc(n int) {
	for len(k.acc) < max(kernels.Threads(), qkernels.Parts(n*k.oh, k.grain())) {
		k.acc = append(k.acc, make([]int32, k.ow*k.c))
	}
}

func (k *dwKernel) run(n int) {
	k.alloc(n) // no-op unless the thread count grew since Allocate
	k.x, k.y = k.it.i8[k.in], k.it.i8[k.out]
	k.r.For(n*k.oh, k.grain(), k.rowsFn)
	k.x, k.y = nil, nil
}

// rows computes output rows [lo, hi) of the batch (row = b*OH + oy).
func (k *dwKernel) rows(part, lo, hi int) {
	C := k.c
	acc := k.acc[part]
	for r := lo; r < hi; r++ {
		b, oy := r/k.oh, r%k.oh
		clear(acc)
		y0 := oy*k.sh - k.pt
		rowInside := y0 >= 0 && y0+k.kh <= k.h
		for ox := 0; ox < k.ow; ox++ {
			a := acc[ox*C : (ox+1)*C]
			if x0 := ox*k.sw - k.pl; rowInside && x0 >= 0 && x0+k.kw <= k.w {
				// Every tap inside the image: one call for the pixel.
				qkernels.DepthwisePixel(a, k.x[((b*k.h+y0)*k.w+x0)*C:], k.wt, k.offs, k.zpIn)
				continue
			}
			for ky := 0; ky < k.kh; ky++ {
				iy := oy*k.sh - k.pt + ky
				if iy < 0 || iy >= k.h {
					continue
				}
				for kx := 0; kx < k.kw; kx++ {
					ix := ox*k.sw - k.pl + kx
					if ix < 0 || ix >= k.w {
						continue
					}
					qkernels.MulAddRow(a, k.x[((b*k.h+iy)*k.w+ix)*C:], k.wt[(ky*k.kw+kx)*C:], k.zpIn)
				}
			}
		}
		k.o.Rows(acc, C, k.ow, k.y[(b*k.oh+oy)*k.ow*C:], C)
	}
}
