package qmath

import (
	"fmt"
	"math"
)

// Fixed-point requantization. A positive real multiplier M is held
// gemmlowp-style as an int32 mantissa M0 in [2^30, 2^31) and a right shift S, M ~= M0 * 2^-S, and an
// int32 accumulator is rescaled exactly as
//
//	round_half_even(acc * M0 / 2^S)
//
// computed in int64 (|acc*M0| < 2^62), so the result is defined bit for bit
// by integers alone. The mantissa carries 31 significant bits, so M0*2^-S
// differs from M by a relative 2^-32 at most: the result equals the float64
// reference round_half_even(acc*M) except when acc*M lies within about
// |acc*M|*2^-31 of a rounding tie (then they may differ by one).
//
// Several terms that must be added before one rounding (Add, the inputs of
// a rescaled sum) use a common shift: CommonMultipliers.

// Multiplier is a positive real multiplier M0 * 2^-Shift with M0 in
// [2^30, 2^31) (or M0 = 0 for a zero multiplier).
type Multiplier struct {
	// M0 is the 31-bit mantissa.
	M0 int32
	// Shift is the right shift, 0..maxShift.
	Shift int32
}

// maxShift bounds the right shift: beyond it every int32 accumulator
// rescales to zero.
const maxShift = 94

// NewMultiplier returns the fixed-point form of real, which must be finite
// and in [0, 2^31).
func NewMultiplier(real float64) (Multiplier, error) {
	if math.IsNaN(real) || real < 0 || real >= 1<<31 {
		return Multiplier{}, fmt.Errorf("qmath: multiplier %v outside [0, 2^31)", real)
	}
	if real == 0 {
		return Multiplier{}, nil
	}
	frac, exp := math.Frexp(real) // real = frac * 2^exp, frac in [0.5, 1)
	m := math.RoundToEven(frac * (1 << 31))
	if m == 1<<31 {
		m = 1 << 30
		exp++
	}
	shift := 31 - exp
	if shift > maxShift {
		return Multiplier{}, nil // rescales everything to zero
	}
	return Multiplier{M0: int32(m), Shift: int32(shift)}, nil
}

// Real returns the multiplier's exact value as a float64.
func (m Multiplier) Real() float64 { return math.Ldexp(float64(m.M0), -int(m.Shift)) }

// Apply returns round_half_even(acc * M0 / 2^Shift), saturated to int32.
func (m Multiplier) Apply(acc int32) int32 {
	return Saturate(RoundShift(int64(acc)*int64(m.M0), uint(m.Shift)))
}

// RoundShift returns p / 2^s rounded to the nearest integer, ties to even.
func RoundShift(p int64, s uint) int64 {
	if s == 0 {
		return p
	}
	if s >= 64 {
		return 0 // |p| < 2^63 <= 2^(s-1): below one half
	}
	q := p >> s // floor
	r := p - q<<s
	half := int64(1) << (s - 1)
	if r > half || (r == half && q&1 != 0) {
		q++
	}
	return q
}

// Saturate clamps v to the int32 range.
func Saturate(v int64) int32 {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	if v < math.MinInt32 {
		return math.MinInt32
	}
	return int32(v)
}

// CommonMultipliers returns the mantissas of several positive reals with
// one shared right shift, chosen so that the largest mantissa is in
// [2^30, 2^31): sum_i x_i*M_i can then be rescaled with one RoundShift.
// The reals must be finite, in [0, 2^31), not all zero. The x_i times the
// mantissas must fit an int64 sum: with |x_i| < 2^16 and up to 4 terms
// they do.
func CommonMultipliers(reals ...float64) (mant []int64, shift uint, err error) {
	big := 0.0
	for _, r := range reals {
		if math.IsNaN(r) || r < 0 || r >= 1<<31 {
			return nil, 0, fmt.Errorf("qmath: multiplier %v outside [0, 2^31)", r)
		}
		big = math.Max(big, r)
	}
	if big == 0 {
		return nil, 0, fmt.Errorf("qmath: all multipliers are zero")
	}
	_, exp := math.Frexp(big)
	s := 31 - exp
	if s > maxShift {
		s = maxShift
	}
	if s < 0 {
		s = 0
	}
	mant = make([]int64, len(reals))
	for i, r := range reals {
		mant[i] = int64(math.RoundToEven(math.Ldexp(r, s)))
	}
	return mant, uint(s), nil
}

// Requantize rescales an int32 accumulator to an output code: clamp(M*acc
// + zp, lo, hi), with M*acc rounded half to even (Apply). The integer
// engine and the QAT model's inference mode both call it, so they agree
// bit for bit.
func Requantize(acc int32, m Multiplier, zp, lo, hi int32) int32 {
	v := Saturate(int64(m.Apply(acc)) + int64(zp))
	return min(max(v, lo), hi)
}

// QuantizeBias returns a float bias on the accumulator's grid, scale
// sIn*sW: round_half_even(b / (sIn*sW)) in float64, saturated to int32.
func QuantizeBias(b, sIn, sW float32) int32 {
	q := math.RoundToEven(float64(b) / (float64(sIn) * float64(sW)))
	if math.IsNaN(q) {
		return 0
	}
	return int32(math.Max(math.Min(q, math.MaxInt32), math.MinInt32))
}
