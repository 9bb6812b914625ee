package lite

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/tensor"
)

// sliceKernel is Slice: positions Begin, Begin+Step, ... below End of the
// per-sample axis AxisFromEnd (counted from the last), copied code for
// code: the output keeps the input's scale, zero point and bits
// (docs/DESIGN.md, Numerics), so no value is requantized. The tensors are
// seen as rows: outer rows per sample (the product of the dimensions
// before the axis) of dim positions of inner values.
// in (N, ..., dim, ...) -> out (N, ..., kept, ...)
type sliceKernel struct {
	it                *Interpreter
	in, out           int
	outer, dim, inner int
	begin, step, kept int
}

func newSlice(it *Interpreter, op *Op) *sliceKernel {
	s := it.m.Tensors[op.Inputs[0]].Shape
	ax := len(s) - 1 - op.AxisFromEnd
	step := max(op.Step, 1)
	return &sliceKernel{it: it, in: op.Inputs[0], out: op.Output, outer: s[:ax].Size(), dim: s[ax], inner: s[ax+1:].Size(),
		begin: op.Begin, step: step, kept: (op.End-op.Begin-1)/step + 1}
}

func (k *sliceKernel) alloc(int) {}

func (k *sliceKernel) run(n int) {
	x, y := k.it.i8[k.in], k.it.i8[k.out]
	in, out := k.dim*k.inner, k.kept*k.inner
	for r := 0; r < n*k.outer; r++ {
		src, dst := x[r*in:(r+1)*in], y[r*out:(r+1)*out]
		if k.step == 1 {
			copy(dst, src[k.begin*k.inner:])
			continue
		}
		for j := range k.kept {
			p := k.begin + j*k.step
			copy(dst[j*k.inner:(j+1)*k.inner], src[p*k.inner:])
		}
	}
}

// sliceShape checks Slice's range against its input shape and returns
// the output shape (Validate): the axis among the input's dimensions,
// 0 <= Begin < End <= its dimension, Step >= 0 (0 means 1).
func sliceShape(op *Op, in tensor.Shape) (tensor.Shape, error) {
	if op.AxisFromEnd < 0 || op.AxisFromEnd >= len(in) {
		return nil, fmt.Errorf("slice axis %d from the end of a rank-%d input", op.AxisFromEnd, len(in))
	}
	ax := len(in) - 1 - op.AxisFromEnd
	if op.Begin < 0 || op.End <= op.Begin || op.End > in[ax] || op.Step < 0 {
		return nil, fmt.Errorf("slice [%d, %d) step %d of axis %d of %v: want 0 <= begin < end <= %d and step >= 1",
			op.Begin, op.End, op.Step, ax, in, in[ax])
	}
	step := max(op.Step, 1)
	out := in.Clone()
	out[ax] = (op.End-op.Begin-1)/step + 1 // ceil((End-Begin)/step), no overflow
	return out, nil
}

// checkSliceRange refuses Begin, End and Step on an op other than Slice.
func checkSliceRange(op *Op) error {
	if op.Type != OpSlice && (op.Begin != 0 || op.End != 0 || op.Step != 0) {
		return errors.New("slice range on an op that takes none")
	}
	return nil
}
