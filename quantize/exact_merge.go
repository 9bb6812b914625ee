package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// exactMerge is the bit-exact inference of a quantized Add or Concatenate
// (a QuantizeWrapper with an output quantizer, or followed by a quantized
// ReLU/ReLU6 that the integer op fuses; linked by Link). From the inputs'
// codes t_i = q_i - zp_i it computes what the integer engine does:
//
//	Add:         q = clamp(RoundShift(sum_i t_i*M_i, S) + zp_out, lo, hi)
//	             (M_i = s_i/s_out with one shared shift S,
//	             qmath.CommonMultipliers)
//	Concatenate: q = qmath.Requantize(t_i, s_i/s_out, zp_out, lo, hi)
//	             per input, placed along the concatenation axis
//
// ([lo, hi] narrowed by the fused activation) and outputs
// y = (q - zp_out) * s_out.
type exactMerge struct {
	srcs   []source
	concat bool
	axis   int // Concatenate: the axis, counted with the batch as 0
	codes  [][]int32
	scales []float64
	mult   []qmath.Multiplier
}

// newExactMerge links the Add (concat false) or the Concatenate along
// axis (batch = 0) named name, or returns nil if an input's quantizer is
// not found.
func newExactMerge(m *nn.Model, name string, concat bool, axis int) *exactMerge {
	in := m.Inbound(name)
	if len(in) < 2 || (!concat && len(in) > 4) { // CommonMultipliers' int64 bound
		return nil
	}
	e := &exactMerge{concat: concat, axis: axis, codes: make([][]int32, len(in)), scales: make([]float64, len(in)),
		mult: make([]qmath.Multiplier, len(in))}
	for _, x := range in {
		src, ok := sourceOf(m, x)
		if !ok {
			return nil
		}
		e.srcs = append(e.srcs, src)
	}
	return e
}

// forward computes the output exactly into *out from the inputs, or
// returns nil (leaving *out alone) when it cannot (the caller then
// computes the float simulation).
// in[i] (N, ..., C_i) -> out (N, ..., C) (Add: all C_i = C; Concatenate:
// C = sum C_i)
func (e *exactMerge) forward(in []*tensor.Tensor, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor {
	sOut, zpOut, ok := outParams(oq)
	if !ok || len(in) != len(e.srcs) {
		return nil
	}
	for i, src := range e.srcs {
		sIn, zpIn, ok := src.params()
		if !ok {
			return nil
		}
		e.scales[i] = float64(sIn) / float64(sOut)
		e.codes[i] = src.codes(in[i], sIn, zpIn, e.codes[i])
	}
	lo, hi := actRange(oq, act, sOut, zpOut)
	if e.concat {
		return e.concatenate(in, sOut, zpOut, lo, hi, out)
	}
	mant, shift, err := qmath.CommonMultipliers(e.scales...)
	if err != nil {
		return nil
	}
	y := tensor.Ensure(out, in[0].Shape...)
	for j := range y.Data {
		p := int64(0)
		for i, c := range e.codes {
			p += int64(c[j]) * mant[i]
		}
		v := qmath.RoundShift(p, shift) + int64(zpOut)
		code := int32(min(max(v, int64(lo)), int64(hi)))
		y.Data[j] = float32(code-zpOut) * sOut
	}
	return y
}

// concatenate places every input's requantized codes along the axis: the
// tensors are rows (the product of the dimensions before the axis), each
// input contributing a block of its size from the axis on.
func (e *exactMerge) concatenate(in []*tensor.Tensor, sOut float32, zpOut, lo, hi int32, out **tensor.Tensor) *tensor.Tensor {
	shape := in[0].Shape.Clone()
	ax := e.axis
	if ax <= 0 || ax >= len(shape) {
		return nil
	}
	row := 0
	shape[ax] = 0
	for i, x := range in {
		m, err := qmath.NewMultiplier(e.scales[i])
		if err != nil {
			return nil
		}
		e.mult[i] = m
		row += x.Shape[ax:].Size()
		shape[ax] += x.Shape[ax]
	}
	y := tensor.Ensure(out, shape...)
	rows := len(y.Data) / row
	off := 0
	for i, x := range in {
		w := x.Shape[ax:].Size()
		for r := 0; r < rows; r++ {
			src, dst := e.codes[i][r*w:(r+1)*w], y.Data[r*row+off:][:w]
			for k, t := range src {
				code := qmath.Requantize(t, e.mult[i], zpOut, lo, hi)
				dst[k] = float32(code-zpOut) * sOut
			}
		}
		off += w
	}
	return y
}
