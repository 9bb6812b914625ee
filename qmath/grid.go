package qmath

// RoundMagic is 1.5*2^23: for |t| <= 2^22, (t + RoundMagic) - RoundMagic
// rounds t to an integer half to even in float32 (the sum lands in
// [2^23, 2^24), where the spacing of float32 values is exactly 1, and IEEE
// addition rounds to nearest even). It is branch-free and exact once t is
// clamped to the small integer range of a quantized type.
const RoundMagic = 12582912

// Grid is quantization with one scale and zero point as goqat computes it
// everywhere (fake quant in training, the runtime's Quantize op, lookup
// tables, conversion): values map to t = clamp(x*Inv, Lo, Hi) with Inv =
// 1/Scale in float32, rounded half to even, and back by Scale. Lo = qmin-zp
// and Hi = qmax-zp are integers, so clamping before or after rounding is
// the same.
type Grid struct {
	// Scale is the step; Inv its float32 reciprocal.
	Scale, Inv float32
	// Lo and Hi are the integer range minus the zero point.
	Lo, Hi float32
}

// NewGrid precomputes the constants of a scale, zero point and integer
// range.
func NewGrid(scale float32, zeroPoint, qmin, qmax int32) Grid {
	return Grid{Scale: scale, Inv: 1 / scale, Lo: float32(qmin - zeroPoint), Hi: float32(qmax - zeroPoint)}
}

// Round returns round_half_even(clamp(x*Inv, Lo, Hi)), the code minus the
// zero point as a float32; NaN maps to zero.
func (g Grid) Round(x float32) float32 {
	t := x * g.Inv
	if t < g.Lo {
		t = g.Lo
	}
	if t > g.Hi {
		t = g.Hi
	}
	if t != t { // NaN stays NaN through the clamp; map it to zero
		t = 0
	}
	return (t + RoundMagic) - RoundMagic
}

// QuantizeValue returns the quantized value of x, as the fake quant op
// computes it: clamp(round_half_even(x * (1/scale)), qmin-zp, qmax-zp) + zp,
// with 1/scale computed in float32 (Grid.Round).
func QuantizeValue(x, scale float32, zeroPoint, qmin, qmax int32) int32 {
	return int32(NewGrid(scale, zeroPoint, qmin, qmax).Round(x)) + zeroPoint
}

// QuantizeInt8 writes q[i] = QuantizeValue(x[i], scale, zeroPoint, qmin,
// qmax) for every i, with the reciprocal computed once; qmin and qmax must
// lie in the int8 range. q must be at least as long as x.
func QuantizeInt8(x []float32, q []int8, scale float32, zeroPoint, qmin, qmax int32) {
	g := NewGrid(scale, zeroPoint, qmin, qmax)
	q = q[:len(x)]
	for i, v := range x {
		q[i] = int8(int32(g.Round(v)) + zeroPoint)
	}
}

// Dequantize writes x[i] = scale*(q[i] - zeroPoint) in float32. x must be
// at least as long as q.
func Dequantize(q []int8, x []float32, scale float32, zeroPoint int32) {
	x = x[:len(q)]
	for i, v := range q {
		x[i] = scale * float32(int32(v)-zeroPoint)
	}
}
