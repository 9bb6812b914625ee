package quantize

import (
	"math"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// tableFunc is an Activation function that the integer engine computes
// through a 256-entry lookup table: its op and the qmath function the
// table holds.
type tableFunc struct {
	op lite.OpType
	f  func(float64) float64
}

// tableFuncs maps the Activation functions (Keras names) that the integer
// engine tabulates to their op. Sigmoid and tanh have fixed output ranges
// (registry); the others take the scheme's activation quantizer.
var tableFuncs = map[string]tableFunc{
	"sigmoid":      {lite.OpLogistic, qmath.Sigmoid},
	"tanh":         {lite.OpTanh, math.Tanh},
	"hard_sigmoid": {lite.OpHardSigmoid, qmath.HardSigmoid},
	"hard_swish":   {lite.OpHardSwish, qmath.HardSwish},
	"hard_silu":    {lite.OpHardSwish, qmath.HardSwish},
	"silu":         {lite.OpSiLU, qmath.SiLU},
	"swish":        {lite.OpSiLU, qmath.SiLU},
}

// exactLUT is the bit-exact inference of a quantized table activation (a
// QuantizeWrapper of Activation sigmoid, tanh, hard_sigmoid, hard_swish or
// silu with an output quantizer, or followed by a quantized ReLU/ReLU6
// that the integer op fuses; linked by Link). From the input's codes q it
// computes what the integer engine does,
//
//	q_out = table[q], table = qmath.TableClamped(f, s_in, zp_in, s_out, zp_out, lo, hi)
//
// ([lo, hi] the output's range narrowed by the fused activation) and
// outputs y = (q_out - zp_out) * s_out.
type exactLUT struct {
	src source
	f   func(float64) float64

	key   [6]float64 // the parameters of table
	table [256]int8
}

// newExactLUT links the table activation named name computing f, or
// returns nil if its input's quantizer is not found.
func newExactLUT(m *nn.Model, name string, f func(float64) float64) *exactLUT {
	in := m.Inbound(name)
	if len(in) != 1 {
		return nil
	}
	src, ok := sourceOf(m, in[0])
	if !ok {
		return nil
	}
	return &exactLUT{src: src, f: f}
}

// forward computes the output exactly into *out from the input, or
// returns nil (leaving *out alone) when it cannot (the caller then
// computes the float simulation).
// in[0] (N, ...) -> out (N, ...)
func (e *exactLUT) forward(in []*tensor.Tensor, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor {
	sOut, zpOut, ok := outParams(oq)
	if !ok || len(in) != 1 {
		return nil
	}
	sIn, zpIn, ok := e.src.params()
	if !ok {
		return nil
	}
	lo, hi := actRange(oq, act, sOut, zpOut)
	if key := [6]float64{float64(sIn), float64(zpIn), float64(sOut), float64(zpOut), float64(lo), float64(hi)}; key != e.key {
		e.table = qmath.TableClamped(e.f, sIn, zpIn, sOut, zpOut, lo, hi)
		e.key = key
	}
	x := in[0]
	y := tensor.Ensure(out, x.Shape...)
	kernels.ParallelFor(len(x.Data), elemGrain, func(l, h int) {
		for i := l; i < h; i++ {
			q := min(max(e.src.code(x.Data[i], sIn, zpIn)+zpIn, -128), 127)
			y.Data[i] = float32(int32(e.table[q+128])-zpOut) * sOut
		}
	})
	return y
}
