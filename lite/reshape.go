package lite

// reshapeKernel is Reshape (and Flatten): the same int8 values under
// another shape, and the same quantization.
// in (N, ...) -> out (N, ...) of the same per-sample size
type reshapeKernel struct {
	it      *Interpreter
	in, out int
	size    int
}

func (k *reshapeKernel) alloc(int) {}

func (k *reshapeKernel) run(n int) {
	copy(k.it.i8[k.out][:n*k.size], k.it.i8[k.in][:n*k.size])
}
