package quantize

import (
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// exactMul is the bit-exact inference of a quantized Multiply of two
// inputs (a QuantizeWrapper with an output quantizer, or followed by a
// quantized ReLU/ReLU6 that the integer op fuses; linked by Link). From
// the inputs' codes t_i = q_i - zp_i, broadcast as nn.Multiply broadcasts
// them, it computes what the integer engine does,
//
//	q = qmath.Requantize(t_1*t_2, s_1*s_2/s_out, zp_out, lo, hi)
//
// ([lo, hi] narrowed by the fused activation) and outputs
// y = (q - zp_out) * s_out.
type exactMul struct {
	srcs  [2]source
	sizes [2]int     // per-sample sizes of the inputs
	idx   [2][]int32 // each input's element read by each output element (nil: the identity)
	shape tensor.Shape
	codes [2][]int32
}

// newExactMul links the Multiply named name, or returns nil if it does
// not have two inputs or an input's quantizer is not found.
func newExactMul(m *nn.Model, name string) *exactMul {
	in := m.Inbound(name)
	if len(in) != 2 {
		return nil
	}
	e := &exactMul{shape: m.OutputShape(name).Clone()}
	for i, x := range in {
		src, ok := sourceOf(m, x)
		if !ok {
			return nil
		}
		s := m.OutputShape(x)
		e.srcs[i], e.sizes[i], e.idx[i] = src, s.Size(), ops.BroadcastIndex(s, e.shape)
	}
	return e
}

// forward computes the output exactly into *out from the inputs, or
// returns nil (leaving *out alone) when it cannot (the caller then
// computes the float simulation).
// in[0] (N, ...), in[1] (N, ...) -> out (N, broadcast shape)
func (e *exactMul) forward(in []*tensor.Tensor, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor {
	sOut, zpOut, ok := outParams(oq)
	if !ok || len(in) != 2 {
		return nil
	}
	n := in[0].Shape[0]
	var sIn [2]float32
	for i, src := range e.srcs {
		s, zp, ok := src.params()
		if !ok || in[i].Shape[0] != n || len(in[i].Data) != n*e.sizes[i] {
			return nil
		}
		sIn[i] = s
		e.codes[i] = src.codes(in[i], s, zp, e.codes[i])
	}
	// The integer engine's multiplier (lite's Mul computes it alike).
	mult, err := qmath.NewMultiplier(float64(sIn[0]) * float64(sIn[1]) / float64(sOut))
	if err != nil {
		return nil
	}
	lo, hi := actRange(oq, act, sOut, zpOut)
	size := e.shape.Size()
	y := tensor.Ensure(out, append([]int{n}, e.shape...)...)
	for b := 0; b < n; b++ {
		c1, c2 := e.codes[0][b*e.sizes[0]:], e.codes[1][b*e.sizes[1]:]
		yr := y.Data[b*size : (b+1)*size]
		for j := range yr {
			j1, j2 := j, j
			if e.idx[0] != nil {
				j1 = int(e.idx[0][j])
			}
			if e.idx[1] != nil {
				j2 = int(e.idx[1][j])
			}
			code := qmath.Requantize(c1[j1]*c2[j2], mult, zpOut, lo, hi)
			yr[j] = float32(code-zpOut) * sOut
		}
	}
	return y
}
