package lite

// quantizeKernel is Quantize: float32 in, int8 out, with the output's
// scale and zero point, rounding half to even as the QAT input quantizer.
// x (N, ...) float32 -> q (N, ...) int8
type quantizeKernel struct {
	it      *Interpreter
	in, out int
	size    int
}

func newQuantize(it *Interpreter, op *Op) *quantizeKernel {
	return &quantizeKernel{it: it, in: op.Inputs[0], out: op.Output, size: it.size(op.Output)}
}

func (k *quantizeKernel) alloc(int) {}

func (k *quantizeKernel) run(n int) {
	quantizeFloats(k.it.f32[k.in][:n*k.size], k.it.i8[k.out], &k.it.m.Tensors[k.out])
}

// dequantizeKernel is Dequantize: x = scale*(q - zp).
// q (N, ...) int8 -> x (N, ...) float32
type dequantizeKernel struct {
	it      *Interpreter
	in, out int
	size    int
}

func newDequantize(it *Interpreter, op *Op) *dequantizeKernel {
	return &dequantizeKernel{it: it, in: op.Inputs[0], out: op.Output, size: it.size(op.Output)}
}

func (k *dequantizeKernel) alloc(int) {}

func (k *dequantizeKernel) run(n int) {
	dequantizeInts(k.it.i8[k.in][:n*k.size], k.it.f32[k.out], &k.it.m.Tensors[k.in])
}
