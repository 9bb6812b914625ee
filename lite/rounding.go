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
	// RoundingTFLite is TensorFlow Lite's CPU runtime, whose default
	// XNNPACK delegate runs the int8 ops: each requantization in float32
	// (the scale s_in*s_w/s_out computed in float32, the accumulator
	// times it rounded half to even, qmath.RequantizeFP32), Add with
	// XNNPACK's 21-bit multipliers and one rounding shift
	// (qmath.FP32AddParams), and TFLite's own average pools (the sum
	// divided by the count, ties away from zero). A model exported to
	// .tflite and run in this mode gives the codes of TFLite's runtime
	// (docs/tflite.md); imported .tflite models take it.
	RoundingTFLite Rounding = "tflite"
	// RoundingTFLiteReference is TFLite's reference int8 kernels (those of
	// TFLite Micro and of TFLite without a delegate): multipliers rounded
	// half away from zero, two roundings per requantization
	// (qmath.TFLiteMultiply), Add's inputs shifted left by 20 and rescaled
	// one by one, averages and Quantize rounded half away from zero.
	RoundingTFLiteReference Rounding = "tflite-reference"
)

// ParseRounding returns the mode named s: "goqat" (or ""), "tflite" or
// "tflite-reference".
func ParseRounding(s string) (Rounding, error) {
	switch s {
	case "", "goqat":
		return RoundingGoqat, nil
	case "tflite":
		return RoundingTFLite, nil
	case "tflite-reference":
		return RoundingTFLiteReference, nil
	}
	return "", fmt.Errorf("lite: rounding %q (want goqat, tflite or tflite-reference)", s)
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
	switch r {
	case RoundingGoqat, RoundingTFLite, RoundingTFLiteReference:
		return nil
	}
	return fmt.Errorf("lite: rounding %q (want empty, %q or %q)", string(r), string(RoundingTFLite), string(RoundingTFLiteReference))
}

// prepareTFLite builds the kernel of op in a TFLite rounding mode for the
// ops whose arithmetic differs from goqat's (ok false for the others,
// which compute the same codes in every mode: the max pools, Reshape, Pad,
// Slice, Dequantize, and the table ops Softmax, Logistic, Tanh and
// HardSwish, whose tables are computed in float as TFLite's int8 kernels
// compute theirs; docs/tflite.md lists what was measured). An LSTM with
// one weight scale per gate matrix and a cell scale up to 2^-9 runs
// TFLite's integer LSTM arithmetic (lite/lstm_tflite.go) in both modes.
func (it *Interpreter) prepareTFLite(op *Op) (k kernel, ok bool, err error) {
	mode := it.m.Rounding
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
		// TFLite's average pool: the sum over the count, ties away from zero.
		p := newAvgPool(it, op)
		p.div = qmath.DivRoundAway
		k = p
	case OpGlobalAveragePool:
		k = newTFLGlobalAvgPool(it, op)
	case OpLSTM:
		if _, ok := TFLiteLSTMScales(op); !ok || op.CellExponent > MaxTFLiteCellExponent || op.Masking {
			// Per-channel weights, a cell scale above 2^-9 or masking: no
			// TFLite equivalent (export refuses them); goqat's kernel.
			return nil, false, nil
		}
		k, err = newTFLLSTM(it, op)
	case OpQuantize:
		if mode != RoundingTFLiteReference {
			return nil, false, nil // XNNPACK's x*(1/scale), ties to even: goqat's
		}
		k = &tflQuantizeKernel{quantizeKernel: newQuantize(it, op)}
	default:
		return nil, false, nil
	}
	return k, true, err
}

// tflRescale is one output channel's requantization in a TFLite mode: the
// reference kernels' fixed-point multiplier and XNNPACK's float32 scale.
type tflRescale struct {
	ref bool // RoundingTFLiteReference
	m   qmath.Multiplier
	f   float32
}

// newTFLRescale returns the rescaling by real (computed in float64 from
// the scales, as TFLite's kernels compute it) and f (the same ratio
// computed in float32, as XNNPACK computes it).
func newTFLRescale(mode Rounding, real float64, f float32) (tflRescale, error) {
	r := tflRescale{ref: mode == RoundingTFLiteReference, f: f}
	var err error
	if r.ref {
		r.m, err = qmath.NewTFLiteMultiplier(real)
	} else if !(f >= 0 && f < 1<<30) {
		err = fmt.Errorf("scale %v outside [0, 2^30)", f)
	}
	return r, err
}

// apply rescales an accumulator to an output code: clamp(rescaled acc +
// zp, lo, hi).
func (r *tflRescale) apply(acc, zp, lo, hi int32) int8 {
	var v int32
	if r.ref {
		v = qmath.TFLiteMultiply(acc, r.m)
	} else {
		v = qmath.RequantizeFP32(acc, r.f)
	}
	w := int64(v) + int64(zp)
	return int8(min(max(w, int64(lo)), int64(hi)))
}

// tflChannels returns the rescalings s_in*s_w[c]/s_out of the oc output
// channels of a weighted op.
func tflChannels(mode Rounding, in, out *Tensor, wScales []float32, oc int) ([]tflRescale, error) {
	rs := make([]tflRescale, oc)
	for c := range rs {
		sw := wScales[0]
		if len(wScales) > 1 {
			sw = wScales[c]
		}
		r, err := newTFLRescale(mode, float64(in.Scale)*float64(sw)/float64(out.Scale), float32(in.Scale*sw)/out.Scale)
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		rs[c] = r
	}
	return rs, nil
}
