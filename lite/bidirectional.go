package lite

import (
	"errors"
	"fmt"
)

// bidiKernel is BidirectionalConcat, the merge of a Bidirectional layer's
// two recurrent ops with ReturnSequences (docs/DESIGN.md, Sequence
// layers): output row t is the forward op's row t followed by the
// backward op's (GoBackwards) row T-1-t, the step that read input t, so
// both halves are in input order, as Keras's Bidirectional. With a third
// input (the recurrent ops' input x, Masking), a row whose input step is
// padding (every code equals x's zero point) is the output's zero point:
// zeros, as nn.Bidirectional outputs at padding steps. The three int8
// tensors share one scale and zero point, so the codes are copied.
// fwd, bwd (N, T, U), [x (N, T, F)] -> out (N, T, 2U)
type bidiKernel struct {
	it            *Interpreter
	fwd, bwd, out int
	x             int // -1 without Masking
	t, u, f       int
	zx, zo        int8
}

func newBidiConcat(it *Interpreter, op *Op) *bidiKernel {
	ft := &it.m.Tensors[op.Inputs[0]]
	k := &bidiKernel{it: it, fwd: op.Inputs[0], bwd: op.Inputs[1], out: op.Output, x: -1,
		t: ft.Shape[0], u: ft.Shape[1], zo: int8(it.m.Tensors[op.Output].ZeroPoint)}
	if len(op.Inputs) == 3 {
		xt := &it.m.Tensors[op.Inputs[2]]
		k.x, k.f, k.zx = op.Inputs[2], xt.Shape[1], int8(xt.ZeroPoint)
	}
	return k
}

func (k *bidiKernel) alloc(int) {}

func (k *bidiKernel) run(n int) {
	t, u := k.t, k.u
	f, b, y := k.it.i8[k.fwd], k.it.i8[k.bwd], k.it.i8[k.out]
	for i := 0; i < n; i++ {
		for s := 0; s < t; s++ {
			o := y[(i*t+s)*2*u : (i*t+s+1)*2*u]
			if k.padded(i*t + s) {
				for j := range o {
					o[j] = k.zo
				}
				continue
			}
			copy(o[:u], f[(i*t+s)*u:(i*t+s+1)*u])
			r := t - 1 - s // the backward op's step that read input s
			copy(o[u:], b[(i*t+r)*u:(i*t+r+1)*u])
		}
	}
}

// padded reports whether input row r (sample i, step s: i*T+s) is
// padding: Masking, and every code at x's zero point.
func (k *bidiKernel) padded(r int) bool {
	if k.x < 0 {
		return false
	}
	for _, v := range k.it.i8[k.x][r*k.f : (r+1)*k.f] {
		if v != k.zx {
			return false
		}
	}
	return true
}

// checkBidiConcat checks a BidirectionalConcat op (Validate): forward and
// backward outputs (T, U), the optional input (T, F), the output (T, 2U),
// no weights nor fused activation, and one scale, zero point and width on
// the forward, backward and merged tensors; other
// checks of the op's inputs are checkOp's.
func checkBidiConcat(op *Op, ins []*Tensor, out *Tensor) error {
	if len(op.Weights) != 0 || len(op.Bias) != 0 {
		return errors.New("weights on an op that takes none")
	}
	if op.Activation != "" {
		return fmt.Errorf("fused activation %q on BidirectionalConcat, which copies codes", op.Activation)
	}
	f, b := ins[0], ins[1]
	if len(f.Shape) != 2 || !f.Shape.Equal(b.Shape) {
		return fmt.Errorf("forward and backward shapes %v and %v, want one (T, U)", f.Shape, b.Shape)
	}
	if len(out.Shape) != 2 || out.Shape[0] != f.Shape[0] || out.Shape[1] != 2*f.Shape[1] {
		return fmt.Errorf("output shape %v, but the op computes (%d, %d)", out.Shape, f.Shape[0], 2*f.Shape[1])
	}
	if len(ins) == 3 && (len(ins[2].Shape) != 2 || ins[2].Shape[0] != f.Shape[0]) {
		return fmt.Errorf("mask input shape %v, want (%d, F)", ins[2].Shape, f.Shape[0])
	}
	for _, t := range []*Tensor{f, b} {
		if t.Scale != out.Scale || t.ZeroPoint != out.ZeroPoint || t.Bits != out.Bits {
			return errors.New("the forward and backward outputs must have the output's quantization (the op copies codes)")
		}
	}
	return nil
}
