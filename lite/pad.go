package lite

// padKernel is Pad (ZeroPadding2D): the borders are filled with the zero
// point, the quantized 0.
// in (N,H,W,C) -> out (N,H+top+bottom,W+left+right,C)
type padKernel struct {
	it                 *Interpreter
	in, out            int
	h, w, c, top, left int
	oh, ow             int
	zp                 int8
}

func newPad(it *Interpreter, op *Op) *padKernel {
	s, o := it.m.Tensors[op.Inputs[0]].Shape, it.m.Tensors[op.Output].Shape
	return &padKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: s[2],
		top: op.Pad[0], left: op.Pad[2], oh: o[0], ow: o[1], zp: int8(it.m.Tensors[op.Output].ZeroPoint)}
}

func (k *padKernel) alloc(int) {}

func (k *padKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out][:n*k.oh*k.ow*k.c]
	for i := range y {
		y[i] = k.zp
	}
	row := k.w * k.c
	for b := 0; b < n; b++ {
		for h := 0; h < k.h; h++ {
			src := x[(b*k.h+h)*row:][:row]
			dst := y[((b*k.oh+h+k.top)*k.ow+k.left)*k.c:][:row]
			copy(dst, src)
		}
	}
}
