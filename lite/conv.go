package lite

// convKernel is Conv2D: im2col of the int8 input (the padding filled with
// the input's zero point, which contributes nothing) and an int32
// accumulating int8 GEMM with per-channel requantization.
// in (N,H,W,C), w (KH,KW,C,OC), bias (OC) -> out (N,OH,OW,OC)
type convKernel struct {
	it                     *Interpreter
	in, out                int
	h, w, c, oh, ow, oc    int
	kh, kw, sh, sw, pt, pl int
	zpIn                   int8
	col                    []int8 // (N*OH*OW, KH*KW*C)
	g                      *gemmOut
}

func newConv(it *Interpreter, op *Op) (*convKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	s, o := tin.Shape, tout.Shape
	k := &convKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: s[2], oh: o[0], ow: o[1], oc: o[2],
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2],
		zpIn: int8(tin.ZeroPoint)}
	mult, err := channelMultipliers(tin, tout, op.WeightScales, k.oc)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(tout, op.Activation)
	k.g = newGemmOut(op.Weights, k.kh*k.kw*k.c, k.oc, op.Bias, tin.ZeroPoint, mult, tout.ZeroPoint, lo, hi)
	return k, nil
}

func (k *convKernel) pointwise() bool {
	return k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1 && k.oh == k.h && k.ow == k.w
}

func (k *convKernel) alloc(n int) {
	if !k.pointwise() {
		k.col = make([]int8, n*k.oh*k.ow*k.kh*k.kw*k.c)
	}
}

func (k *convKernel) run(n int) {
	x := k.it.i8[k.in]
	rows := n * k.oh * k.ow
	if k.pointwise() {
		k.g.run(x, rows, k.it.i8[k.out])
		return
	}
	K := k.kh * k.kw * k.c
	col := k.col[:rows*K]
	r := 0
	for b := 0; b < n; b++ {
		for oy := 0; oy < k.oh; oy++ {
			for ox := 0; ox < k.ow; ox++ {
				dst := col[r*K : (r+1)*K]
				d := 0
				for ky := 0; ky < k.kh; ky++ {
					y := oy*k.sh - k.pt + ky
					for kx := 0; kx < k.kw; kx++ {
						xx := ox*k.sw - k.pl + kx
						seg := dst[d : d+k.c]
						if y < 0 || y >= k.h || xx < 0 || xx >= k.w {
							for i := range seg {
								seg[i] = k.zpIn
							}
						} else {
							copy(seg, x[((b*k.h+y)*k.w+xx)*k.c:])
						}
						d += k.c
					}
				}
				r++
			}
		}
	}
	k.g.run(col, rows, k.it.i8[k.out])
}
