package lite

import "github.com/goqat/goqat/lite/fixedpoint"

// dwKernel is DepthwiseConv2D (depth multiplier 1): each channel is
// convolved with its own window; padded taps contribute nothing.
// in (N,H,W,C), w (KH,KW,C), bias (C) -> out (N,OH,OW,C)
type dwKernel struct {
	it                     *Interpreter
	in, out                int
	h, w, c, oh, ow        int
	kh, kw, sh, sw, pt, pl int
	wt                     []int8
	bias                   []int32
	zpIn, zpOut, lo, hi    int32
	mult                   []fixedpoint.Multiplier
	acc                    []int32
}

func newDepthwise(it *Interpreter, op *Op) (*dwKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	s, o := tin.Shape, tout.Shape
	k := &dwKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: s[2], oh: o[0], ow: o[1],
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2],
		wt: op.Weights, bias: op.Bias, zpIn: tin.ZeroPoint, zpOut: tout.ZeroPoint, acc: make([]int32, s[2])}
	var err error
	if k.mult, err = channelMultipliers(tin, tout, op.WeightScales, k.c); err != nil {
		return nil, err
	}
	k.lo, k.hi = outRange(tout, op.Activation)
	return k, nil
}

func (k *dwKernel) alloc(int) {}

func (k *dwKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	C := k.c
	acc := k.acc[:C]
	for b := 0; b < n; b++ {
		for oy := 0; oy < k.oh; oy++ {
			for ox := 0; ox < k.ow; ox++ {
				if k.bias != nil {
					copy(acc, k.bias)
				} else {
					clear(acc)
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
						xr := x[((b*k.h+iy)*k.w+ix)*C:][:C]
						wr := k.wt[(ky*k.kw+kx)*C:][:C]
						for c, v := range xr {
							acc[c] += (int32(v) - k.zpIn) * int32(wr[c])
						}
					}
				}
				yr := y[((b*k.oh+oy)*k.ow+ox)*C:][:C]
				for c, v := range acc {
					yr[c] = requant(v, k.mult[c], k.zpOut, k.lo, k.hi)
				}
			}
		}
	}
}
