package lite

import "github.com/goqat/goqat/internal/qkernels"

// quantizeKernel is Quantize: float32 in, int8 out, with the output's
// scale and zero point, rounding half to even as the QAT input quantizer.
// x (N, ...) float32 -> q (N, ...) int8
type quantizeKernel struct {
	it      *Interpreter
	in, out int
	size    int
	tot     int // elements of the current run
	r       qkernels.Runner
	partFn  func(part, lo, hi int)
}

func newQuantize(it *Interpreter, op *Op) *quantizeKernel {
	k := &quantizeKernel{it: it, in: op.Inputs[0], out: op.Output, size: it.size(op.Output)}
	k.partFn = k.part
	k.r.Threads = it.threads
	return k
}

func (k *quantizeKernel) alloc(int) {}

// run splits the elements across threads in blocks of 64 (parts at least
// 16K elements).
func (k *quantizeKernel) run(n int) {
	k.tot = n * k.size
	k.r.For((k.tot+63)/64, 256, k.partFn)
}

// part quantizes blocks [lo, hi) of 64 elements (the last may be short).
func (k *quantizeKernel) part(_, lo, hi int) {
	e0, e1 := lo*64, min(hi*64, k.tot)
	quantizeFloats(k.it.f32[k.in][e0:e1], k.it.i8[k.out][e0:e1], &k.it.m.Tensors[k.out])
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
