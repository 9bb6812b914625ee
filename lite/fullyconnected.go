package lite

import "github.com/goqat/goqat/internal/qkernels"

// fcKernel is FullyConnected: an int8 GEMM with per-unit requantization.
// in (N, in), w (in, units), bias (units) -> out (N, units)
type fcKernel struct {
	it      *Interpreter
	in, out int
	g       *gemmOut
	fill    func(dst []uint8, i0, n int)
	set     func(a []int8)
}

func newFullyConnected(it *Interpreter, op *Op) (*fcKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	units := op.WeightShape[1]
	mult, err := channelMultipliers(tin, tout, op.WeightScales, units)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(tout, op.Activation)
	g, err := newGemmOut(op.Weights, op.WeightShape[0], units, op.Bias, tin.ZeroPoint, mult, tout.ZeroPoint, lo, hi)
	if err != nil {
		return nil, err
	}
	g.g.SetThreads(it.threads)
	k := &fcKernel{it: it, in: op.Inputs[0], out: op.Output, g: g}
	k.fill, k.set = qkernels.FillRows(op.WeightShape[0])
	return k, nil
}

// shareWith returns this op's kernel for sub, sharing the packed weights.
func (k *fcKernel) shareWith(sub *Interpreter) kernel {
	c := &fcKernel{it: sub, in: k.in, out: k.out, g: k.g.shared(sub.threads)}
	c.fill, c.set = qkernels.FillRows(k.g.g.Weights().K())
	return c
}

func (k *fcKernel) alloc(int) {}

func (k *fcKernel) run(n int) {
	k.set(k.it.i8[k.in])
	k.g.run(k.fill, n, k.it.i8[k.out])
	k.set(nil)
}
