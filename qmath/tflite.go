package qmath

import (
	"fmt"
	"math"
)

// TensorFlow Lite's integer arithmetic (docs/DESIGN.md, Numerics: the
// TFLite rounding mode). TFLite holds a real multiplier as a Q31 mantissa
// and a power of two, like Multiplier, but rounds in other places:
//
//   - the mantissa of the real is rounded half away from zero (goqat's
//     NewMultiplier: half to even), and a multiplier below 2^-32 is zero;
//   - an accumulator is rescaled with two roundings (the gemmlowp scheme):
//     a rounding doubling high multiply by the mantissa (the product's
//     high 32 bits, rounded to nearest with ties up, toward +inf; the one
//     overflow case saturated), then a rounding right shift (ties away
//     from zero);
//     multipliers of 1 and above first shift the accumulator left, in
//     int32;
//   - TFLite built with single rounding instead adds half (rounding half
//     up, toward +inf) and shifts the 64-bit product once;
//   - averages round half away from zero.
//
// A Multiplier from NewTFLiteMultiplier holds TFLite's (mantissa, exponent)
// pair as M0 and Shift = 31 - exponent, so Shift runs from 1 (exponent 30)
// to 62 (exponent -31).

// NewTFLiteMultiplier returns real as TFLite quantizes a multiplier: a
// mantissa in [2^30, 2^31) rounded half away from zero, and zero for a
// real below 2^-32 (an exponent below -31). real must be finite and in
// [0, 2^30), where TFLite's exponent stays at most 30.
func NewTFLiteMultiplier(real float64) (Multiplier, error) {
	if math.IsNaN(real) || real < 0 || real >= 1<<30 {
		return Multiplier{}, fmt.Errorf("qmath: TFLite multiplier %v outside [0, 2^30)", real)
	}
	if real == 0 {
		return Multiplier{}, nil
	}
	frac, exp := math.Frexp(real) // real = frac * 2^exp, frac in [0.5, 1)
	m := math.Round(frac * (1 << 31))
	if m == 1<<31 {
		m /= 2
		exp++
	}
	if exp > 30 {
		return Multiplier{}, fmt.Errorf("qmath: TFLite multiplier %v outside [0, 2^30)", real)
	}
	if exp < -31 {
		return Multiplier{}, nil
	}
	return Multiplier{M0: int32(m), Shift: int32(31 - exp)}, nil
}

// Exponent returns TFLite's exponent of the multiplier, 31 - Shift
// (positive: a left shift, negative: a right shift).
func (m Multiplier) Exponent() int { return 31 - int(m.Shift) }

// SaturatingRoundingDoublingHighMul returns the high 32 bits of 2*a*b,
// a*b/2^31 rounded to nearest, ties up (toward +inf: the nudge is added
// before a division that truncates toward zero); the one product that
// overflows, MinInt32*MinInt32, saturates to MaxInt32.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == math.MinInt32 && b == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31)) // division truncates toward zero
}

// RoundingDivideByPOT returns x / 2^exponent rounded half away from zero,
// exponent in [0, 31].
func RoundingDivideByPOT(x int32, exponent int) int32 {
	mask := int32(1)<<uint(exponent) - 1
	if exponent == 31 {
		mask = math.MaxInt32
	}
	rem := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	q := x >> uint(exponent)
	if rem > threshold {
		q++
	}
	return q
}

// TFLiteMultiply rescales x by a multiplier from NewTFLiteMultiplier as
// TFLite's reference kernels do (two roundings): a left shift by the
// positive part of the exponent (wrapping in int32), the rounding doubling
// high multiply by M0, then a rounding right shift by the negative part.
func TFLiteMultiply(x int32, m Multiplier) int32 {
	if m.M0 == 0 {
		return 0
	}
	e := m.Exponent()
	left, right := max(e, 0), max(-e, 0)
	if right > 31 {
		return 0 // NewTFLiteMultiplier's exponent is at least -31
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x*(1<<uint(left)), m.M0), right)
}

// TFLiteMultiplySingle rescales x as TFLite built with single rounding
// does: (x*M0 + 2^(Shift-1)) >> Shift on the 64-bit product, ties rounding
// up, saturated to int32.
func TFLiteMultiplySingle(x int32, m Multiplier) int32 {
	if m.Shift < 1 || m.Shift > 62 {
		return Saturate(int64(x) * int64(m.M0) >> 31)
	}
	p := int64(x)*int64(m.M0) + 1<<(m.Shift-1)
	return Saturate(p >> m.Shift)
}

// DivRoundAway returns a/b rounded to nearest, ties away from zero (b >
// 0): TFLite's rounding of the integer average pool's sums.
func DivRoundAway(a, b int64) int64 {
	if a >= 0 {
		return (a + b/2) / b
	}
	return (a - b/2) / b
}

// XNNPACK's int8 arithmetic, which TFLite's CPU runtime runs through its
// default delegate (docs/DESIGN.md, Numerics: the rounding modes): a
// float32 scale per output channel, computed in float32 from the tensors'
// scales, the accumulator converted to float32, multiplied by it and
// rounded half to even; Add with 21-bit multipliers and one shift.

// RequantizeFP32 returns float32(acc)*scale (a float32 product) rounded
// half to even, saturated to int32.
func RequantizeFP32(acc int32, scale float32) int32 {
	f := float32(float32(acc) * scale) // rounded to float32, never fused
	return Saturate(int64(math.Max(math.Min(math.RoundToEven(float64(f)), 1<<62), -(1 << 62))))
}

// FP32AddParams are XNNPACK's constants of an int8 Add (docs/DESIGN.md,
// Numerics): out = (bias + a*MA + b*MB) >> Shift + zp_out, the shift
// arithmetic, bias = 2^(Shift-1) - MA*zp_a - MB*zp_b.
type FP32AddParams struct {
	// MA, MB are the inputs' multipliers, below 2^21.
	MA, MB int32
	// Shift is the right shift, 12..30.
	Shift uint
}

// NewFP32AddParams returns XNNPACK's Add constants for the float32 ratios
// ra = s_a/s_out and rb = s_b/s_out: the shift puts the larger ratio's
// multiplier in [2^20, 2^21), each multiplier is its ratio times 2^shift
// rounded half to even. Ratios must lie in [2^-10, 2^8), XNNPACK's range.
func NewFP32AddParams(ra, rb float32) (FP32AddParams, error) {
	for _, r := range []float32{ra, rb} {
		if !(r >= 1.0/1024 && r < 256) {
			return FP32AddParams{}, fmt.Errorf("qmath: Add scale ratio %v outside [2^-10, 2^8)", r)
		}
	}
	_, exp := math.Frexp(float64(max(ra, rb))) // r = f * 2^exp, f in [0.5, 1)
	shift := uint(20 - (exp - 1))
	ma := math.RoundToEven(math.Ldexp(float64(ra), int(shift)))
	mb := math.RoundToEven(math.Ldexp(float64(rb), int(shift)))
	return FP32AddParams{MA: int32(ma), MB: int32(mb), Shift: shift}, nil
}

// Apply returns the Add of the codes a and b (zero points zpA, zpB) before
// the output zero point: (2^(Shift-1) + (a-zpA)*MA + (b-zpB)*MB) >> Shift,
// in int32 as XNNPACK computes it.
func (p FP32AddParams) Apply(a, b, zpA, zpB int32) int32 {
	acc := int32(1)<<(p.Shift-1) + (a-zpA)*p.MA + (b-zpB)*p.MB
	return acc >> p.Shift
}
