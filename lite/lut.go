package lite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/qmath"
)

// lutKernel is an element-wise function through a 256-entry table: entry
// q holds the output code of f(s_in*(q - zp_in)), computed in float64 (the
// qmath functions) and quantized as the QAT fake quant does
// (qmath.Table). Logistic outputs have scale 1/256 and zero point -128,
// Tanh 1/128 and 0; HardSwish, HardSigmoid and SiLU take any output
// quantization, their codes clamped to the output's range narrowed by a
// fused ReLU/ReLU6 (qmath.TableClamped).
// in (N, ...) -> out (N, ...)
type lutKernel struct {
	it      *Interpreter
	in, out int
	size    int
	table   [256]int8
}

// lutFunc returns the function of a table op.
func lutFunc(t OpType) func(float64) float64 {
	switch t {
	case OpTanh:
		return math.Tanh
	case OpHardSwish:
		return qmath.HardSwish
	case OpHardSigmoid:
		return qmath.HardSigmoid
	case OpSiLU:
		return qmath.SiLU
	}
	return qmath.Sigmoid
}

func newLUT(it *Interpreter, op *Op) (*lutKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	k := &lutKernel{it: it, in: op.Inputs[0], out: op.Output, size: tin.Shape.Size()}
	f := lutFunc(op.Type)
	if op.Type != OpLogistic && op.Type != OpTanh {
		lo, hi := outRange(tout, op.Activation)
		k.table = qmath.TableClamped(f, tin.Scale, tin.ZeroPoint, tout.Scale, tout.ZeroPoint, lo, hi)
		return k, nil
	}
	scale, zp := float32(1.0/256), int32(-128)
	if op.Type == OpTanh {
		scale, zp = 1.0/128, 0
	}
	if tout.Scale != scale || tout.ZeroPoint != zp || tout.Bits != 8 {
		return nil, fmt.Errorf("%s output must be 8-bit with scale %v and zero point %d, got %v, %d", op.Type, scale, zp, tout.Scale, tout.ZeroPoint)
	}
	k.table = qmath.Table(f, tin.Scale, tin.ZeroPoint, scale, zp)
	return k, nil
}

func (k *lutKernel) alloc(int) {}

func (k *lutKernel) run(n int) {
	x, y := k.it.i8[k.in][:n*k.size], k.it.i8[k.out]
	y = y[:len(x)]
	for i, v := range x {
		y[i] = k.table[int(v)+128]
	}
}
