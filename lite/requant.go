package lite

import (
	"fmt"

	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
)

// outRange returns the clamp of an op's output: the tensor's integer range
// narrowed by the fused activation (qmath.ActivationRange).
func outRange(t *Tensor, act string) (lo, hi int32) {
	qmin, qmax := t.QRange()
	return qmath.ActivationRange(qmin, qmax, t.Scale, t.ZeroPoint, act)
}

// channelMultipliers returns the requantization multipliers
// s_in*s_w[c]/s_out of the oc output channels of a weighted op.
func channelMultipliers(in, out *Tensor, wScales []float32, oc int) ([]qmath.Multiplier, error) {
	ms := make([]qmath.Multiplier, oc)
	for c := range ms {
		sw := wScales[0]
		if len(wScales) > 1 {
			sw = wScales[c]
		}
		m, err := qmath.NewMultiplier(float64(in.Scale) * float64(sw) / float64(out.Scale))
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		ms[c] = m
	}
	return ms, nil
}

// requant rescales an accumulator to the output: clamp(M*acc + zp, lo, hi).
func requant(acc int32, m qmath.Multiplier, zp, lo, hi int32) int8 {
	return int8(qmath.Requantize(acc, m, zp, lo, hi))
}

// quantizeFloats quantizes x into q with t's parameters, as the QAT fake
// quant does.
func quantizeFloats(x []float32, q []int8, t *Tensor) {
	qmin, qmax := t.QRange()
	g := qmath.NewGrid(t.Scale, t.ZeroPoint, qmin, qmax)
	qkernels.QuantizeFloats(q, x, g.Inv, g.Lo, g.Hi, t.ZeroPoint)
}

// dequantizeInts writes x = scale*(q - zp).
func dequantizeInts(q []int8, x []float32, t *Tensor) { qmath.Dequantize(q, x, t.Scale, t.ZeroPoint) }
