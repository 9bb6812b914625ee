package lite

import "github.com/goqat/goqat/internal/qkernels"

// tflConvKernel is Conv2D, DepthwiseConv2D and FullyConnected in a TFLite
// rounding mode (docs/DESIGN.md, Numerics: the rounding modes): the same
// int32 accumulators as the default kernels (wrapping as they do), each
// output channel rescaled as the mode says (tflRescale). Pure Go, one output pixel at a time, pixels
// split across threads; speed is secondary in this mode.
// Conv2D: in (N,H,W,C), w (KH,KW,C/G,OC) -> out (N,OH,OW,OC);
// DepthwiseConv2D: w (KH,KW,C*M) -> out (N,OH,OW,C*M);
// FullyConnected: in (N,IN), w (IN,OUT) -> out (N,OUT), a 1x1 image.
type tflConvKernel struct {
	it                     *Interpreter
	in, out                int
	depthwise              bool
	h, w, c, oh, ow, oc    int
	kh, kw, sh, sw, pt, pl int
	dh, dw, groups, dm     int
	zpIn, zpOut, lo, hi    int32
	weights                []int8
	bias                   []int32
	rs                     []tflRescale
	col, acc               [][]int32 // per part: the window (KH*KW*C), the accumulators (OC)
	r                      qkernels.Runner
	pixFn                  func(part, lo, hi int)
}

func newTFLConv(it *Interpreter, op *Op) (*tflConvKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	k := &tflConvKernel{it: it, in: op.Inputs[0], out: op.Output, depthwise: op.Type == OpDepthwiseConv2D,
		zpIn: tin.ZeroPoint, zpOut: tout.ZeroPoint, weights: op.Weights, bias: op.Bias,
		dh: 1, dw: 1, groups: 1, dm: 1, kh: 1, kw: 1, sh: 1, sw: 1, h: 1, w: 1, oh: 1, ow: 1}
	if op.Type == OpFullyConnected {
		k.c, k.oc = op.WeightShape[0], op.WeightShape[1]
	} else {
		s, o := tin.Shape, tout.Shape
		k.h, k.w, k.c, k.oh, k.ow, k.oc = s[0], s[1], s[2], o[0], o[1], o[2]
		k.kh, k.kw, k.sh, k.sw, k.pt, k.pl = op.Kernel[0], op.Kernel[1], op.Strides[0], op.Strides[1], op.Pad[0], op.Pad[2]
		k.dh, k.dw = max(op.Dilation[0], 1), max(op.Dilation[1], 1)
		k.groups, k.dm = max(op.Groups, 1), max(op.DepthMultiplier, 1)
	}
	var err error
	if k.rs, err = tflChannels(it.m.Rounding, tin, tout, op.WeightScales, k.oc); err != nil {
		return nil, err
	}
	k.lo, k.hi = outRange(tout, op.Activation)
	k.pixFn = k.pixels
	k.r.Threads = it.threads
	return k, nil
}

// grain is the pixels of one part.
func (k *tflConvKernel) grain() int { return max(1, 65536/max(1, k.kh*k.kw*k.c*k.oc)) }

func (k *tflConvKernel) alloc(n int) {
	for len(k.col) < max(k.r.Parts(n*k.oh*k.ow, k.grain()), 1) {
		k.col = append(k.col, make([]int32, k.kh*k.kw*k.c))
		k.acc = append(k.acc, make([]int32, k.oc))
	}
}

func (k *tflConvKernel) run(n int) {
	k.alloc(n) // no-op once Allocate sized it
	k.r.For(n*k.oh*k.ow, k.grain(), k.pixFn)
}

// pixels computes output pixels [lo, hi) (pixel = (b*OH+oy)*OW+ox).
func (k *tflConvKernel) pixels(part, lo, hi int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	col, acc := k.col[part], k.acc[part]
	C, OC := k.c, k.oc
	for p := lo; p < hi; p++ {
		ox, oy, b := p%k.ow, (p/k.ow)%k.oh, p/(k.ow*k.oh)
		// The window, input minus its zero point; taps in the padding
		// are zero (TFLite skips them: the same sums).
		for ky := 0; ky < k.kh; ky++ {
			iy := oy*k.sh - k.pt + ky*k.dh
			for kx := 0; kx < k.kw; kx++ {
				ix := ox*k.sw - k.pl + kx*k.dw
				dst := col[(ky*k.kw+kx)*C:][:C]
				if iy < 0 || iy >= k.h || ix < 0 || ix >= k.w {
					clear(dst)
					continue
				}
				src := x[((b*k.h+iy)*k.w+ix)*C:][:C]
				for i, v := range src {
					dst[i] = int32(v) - k.zpIn
				}
			}
		}
		if k.bias != nil {
			copy(acc, k.bias)
		} else {
			clear(acc)
		}
		taps := k.kh * k.kw
		switch {
		case k.depthwise:
			M := k.dm
			for t := 0; t < taps; t++ {
				w := k.weights[t*OC:][:OC]
				for c, v := range col[t*C : (t+1)*C] {
					for m := 0; m < M; m++ {
						acc[c*M+m] += v * int32(w[c*M+m])
					}
				}
			}
		default:
			G := k.groups
			cg, ocg := C/G, OC/G
			for g := 0; g < G; g++ {
				a := acc[g*ocg : (g+1)*ocg]
				for t := 0; t < taps; t++ {
					for ci := 0; ci < cg; ci++ {
						v := col[t*C+g*cg+ci]
						if v == 0 {
							continue
						}
						w := k.weights[(t*cg+ci)*OC+g*ocg:][:ocg]
						for j, wv := range w {
							a[j] += v * int32(wv)
						}
					}
				}
			}
		}
		out := y[p*OC:][:OC]
		for o, s := range acc {
			out[o] = k.rs[o].apply(s, k.zpOut, k.lo, k.hi)
		}
	}
}
