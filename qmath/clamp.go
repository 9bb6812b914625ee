package qmath

// ActivationRange returns the clamp of an output code in [qmin, qmax]
// with scale and zero point zp, narrowed by a fused activation: "relu"
// from the zero point, "relu6" also up to the quantized 6 (QuantizeValue of
// 6, as the QAT fake quant computes it); any other act leaves the range.
// The integer engine and the QAT model's exact inference both clamp with
// it.
func ActivationRange(qmin, qmax int32, scale float32, zp int32, act string) (lo, hi int32) {
	lo, hi = qmin, qmax
	switch act {
	case "relu":
		lo = max(lo, zp)
	case "relu6":
		lo = max(lo, zp)
		hi = min(hi, QuantizeValue(6, scale, zp, lo, hi))
	}
	return lo, hi
}

// DivRoundEven returns a/b rounded to nearest, ties to even (b > 0): the
// rounding of the integer engine's averages.
func DivRoundEven(a, b int64) int64 {
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
