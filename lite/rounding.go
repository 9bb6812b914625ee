package lite

import (
	"fmt"

	"github.com/goqat/goqat/qmath"
)

// Rounding names the requantization arithmetic of an integer model
// (docs/DESIGN.md, Numerics: the rounding modes).
type Rounding string

// The rounding modes.
const (
	// RoundingGoqat is goqat's arithmetic: every requantization rounds the
	// exact product once, half to even (qmath.Requantize), averages round
	// half to even. The QAT model computes the same codes. It is the
	// default (the empty string, left out of the file).
	RoundingGoqat Rounding = ""
	// RoundingTFLite is TensorFlow Lite's reference int8 arithmetic:
	// multipliers rounded as TFLite rounds them, two roundings per
	// requantization (qmath.TFLiteMultiply), Add's inputs rescaled with a
	// left shift of 20 and their own multipliers, averages rounded half
	// away from zero, Quantize as round(x/scale) half away from zero. A
	// model exported to .tflite and run in this mode gives TFLite's codes
	// (docs/tflite.md); imported .tflite models take it.
	RoundingTFLite Rounding = "tflite"
)

// ParseRounding returns the mode named s: "goqat" (or "") or "tflite".
func ParseRounding(s string) (Rounding, error) {
	switch s {
	case "", "goqat":
		return RoundingGoqat, nil
	case "tflite":
		return RoundingTFLite, nil
	}
	return "", fmt.Errorf("lite: rounding %q (want goqat or tflite)", s)
}

// String returns the mode's name ("goqat" for the default).
func (r Rounding) String() string {
	if r == RoundingGoqat {
		return "goqat"
	}
	return string(r)
}

// validate checks that r is a known mode.
func (r Rounding) validate() error {
	if r != RoundingGoqat && r != RoundingTFLite {
		return fmt.Errorf("lite: rounding %q (want empty or %q)", string(r), string(RoundingTFLite))
	}
	return nil
}

// prepareTFLite builds the kernel of op in TFLite rounding for the ops
// whose arithmetic differs from goqat's (ok false for the others, which
// compute the same codes in both modes: the pools without averaging,
// Reshape, Pad, Slice, Dequantize, and the table ops Softmax, Logistic,
// Tanh and HardSwish, whose tables are computed in float as TFLite's int8
// kernels compute theirs; docs/tflite.md lists what was measured).
func (it *Interpreter) prepareTFLite(op *Op) (k kernel, ok bool, err error) {
	switch op.Type {
	case OpConv2D, OpDepthwiseConv2D, OpFullyConnected:
		k, err = newTFLConv(it, op)
	case OpAdd:
		k, err = newTFLAdd(it, op)
	case OpMul:
		k, err = newTFLMul(it, op)
	case OpConcatenation:
		k, err = newTFLConcat(it, op)
	case OpAveragePool:
		k = &tflAvgPoolKernel{avgPoolKernel: newAvgPool(it, op)}
	case OpGlobalAveragePool:
		k = newTFLGlobalAvgPool(it, op)
	case OpQuantize:
		k = &tflQuantizeKernel{quantizeKernel: newQuantize(it, op)}
	default:
		return nil, false, nil
	}
	return k, true, err
}

// tflMultipliers returns TFLite's multipliers s_in*s_w[c]/s_out of the oc
// output channels of a weighted op (qmath.NewTFLiteMultiplier).
func tflMultipliers(in, out *Tensor, wScales []float32, oc int) ([]qmath.Multiplier, error) {
	ms := make([]qmath.Multiplier, oc)
	for c := range ms {
		sw := wScales[0]
		if len(wScales) > 1 {
			sw = wScales[c]
		}
		m, err := qmath.NewTFLiteMultiplier(float64(in.Scale) * float64(sw) / float64(out.Scale))
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		ms[c] = m
	}
	return ms, nil
}

// tflRequant rescales an accumulator to an output code in TFLite's
// arithmetic: clamp(TFLiteMultiplySingle(acc, m) + zp, lo, hi).
func tflRequant(acc int32, m qmath.Multiplier, zp, lo, hi int32) int8 {
	v := int64(qmath.TFLiteMultiplySingle(acc, m)) + int64(zp)
	return int8(min(max(v, int64(lo)), int64(hi)))
}

// tflRequantDW is tflRequant with the depthwise kernels' rescaling,
// TFLiteMultiplyUpward.
func tflRequantDW(acc int32, m qmath.Multiplier, zp, lo, hi int32) int8 {
	v := int64(qmath.TFLiteMultiplyUpward(acc, m)) + int64(zp)
	return int8(min(max(v, int64(lo)), int64(hi)))
}
