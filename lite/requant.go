package lite

import (
	"fmt"

	"github.com/goqat/goqat/lite/fixedpoint"
	"github.com/goqat/goqat/quantize"
)

// outRange returns the clamp of an op's output: the tensor's integer range
// narrowed by the fused activation (ReLU: from the zero point; ReLU6: up to
// the quantized 6, computed as the QAT fake quant computes it).
func outRange(t *Tensor, act string) (lo, hi int32) {
	lo, hi = t.QRange()
	switch act {
	case "relu":
		lo = max(lo, t.ZeroPoint)
	case "relu6":
		lo = max(lo, t.ZeroPoint)
		hi = min(hi, quantize.QuantizeValue(6, t.Scale, t.ZeroPoint, lo, hi))
	}
	return lo, hi
}

// channelMultipliers returns the requantization multipliers
// s_in*s_w[c]/s_out of the oc output channels of a weighted op.
func channelMultipliers(in, out *Tensor, wScales []float32, oc int) ([]fixedpoint.Multiplier, error) {
	ms := make([]fixedpoint.Multiplier, oc)
	for c := range ms {
		sw := wScales[0]
		if len(wScales) > 1 {
			sw = wScales[c]
		}
		m, err := fixedpoint.NewMultiplier(float64(in.Scale) * float64(sw) / float64(out.Scale))
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		ms[c] = m
	}
	return ms, nil
}

// requant rescales an accumulator to the output: clamp(M*acc + zp, lo, hi).
func requant(acc int32, m fixedpoint.Multiplier, zp, lo, hi int32) int8 {
	return int8(fixedpoint.Requantize(acc, m, zp, lo, hi))
}

// divRoundEven returns a/b rounded to nearest, ties to even (b > 0).
func divRoundEven(a, b int64) int64 {
	q := a / b
	r := a - q*b
	if r < 0 { // floor division
		q--
		r += b
	}
	if 2*r > b || (2*r == b && q&1 != 0) {
		q++
	}
	return q
}

// quantizeFloats quantizes x into q with t's parameters, as the QAT fake
// quant does (quantize.QuantizeValue).
func quantizeFloats(x []float32, q []int8, t *Tensor) {
	qmin, qmax := t.QRange()
	quantize.QuantizeInt8(x, q, t.Scale, t.ZeroPoint, qmin, qmax)
}

// dequantizeInts writes x = scale*(q - zp).
func dequantizeInts(q []int8, x []float32, t *Tensor) {
	s, zp := t.Scale, t.ZeroPoint
	x = x[:len(q)]
	for i, v := range q {
		x[i] = s * float32(int32(v)-zp)
	}
}
