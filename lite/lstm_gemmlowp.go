package lite

import "math"

// The int16 fixed-point sigmoid and tanh of TFLite's integer LSTM kernel
// (docs/tflite.md, Sequence models): gemmlowp's fixed-point logistic and
// tanh, evaluated on int16 raw values of Qm.(15-m) with its rounding
// primitives (a rounding doubling high multiply, ties up; a rounding
// division by a power of two, ties away from zero; saturating left
// shifts), exp on [-1/4, 0) by a Taylor expansion around -1/8 and a barrel
// shifter of exp(-2^k) constants, and the quotients by three
// Newton-Raphson steps. The constants are gemmlowp's 32-bit ones rounded
// to 16 bits. Additions of fixed-point values wrap in int16 as gemmlowp's
// do; results are Q0.15.

// fpMul is gemmlowp's SaturatingRoundingDoublingHighMul on int16: a*b /
// 2^15 rounded to nearest, ties up, (-2^15)^2 saturating.
func fpMul(a, b int16) int16 {
	if a == math.MinInt16 && b == math.MinInt16 {
		return math.MaxInt16
	}
	ab := int32(a) * int32(b)
	nudge := int32(1 << 14)
	if ab < 0 {
		nudge = 1 - 1<<14
	}
	return int16((ab + nudge) / (1 << 15)) // truncates toward zero
}

// fpDivPOT is x / 2^e rounded to nearest, ties away from zero (e in 0..14).
func fpDivPOT(x int16, e uint) int16 {
	mask := int16(1)<<e - 1
	rem := x & mask
	thr := mask >> 1
	if x < 0 {
		thr++
	}
	q := x >> e
	if rem > thr {
		q++
	}
	return q
}

// fpMulPOT is gemmlowp's SaturatingRoundingMultiplyByPOT: x * 2^e,
// saturated for e > 0, fpDivPOT for e < 0.
func fpMulPOT(x int16, e int) int16 {
	switch {
	case e > 0:
		thr := int16(1)<<(15-e) - 1
		if x > thr {
			return math.MaxInt16
		}
		if x < -thr {
			return math.MinInt16
		}
		return x << e
	case e < 0:
		return fpDivPOT(x, uint(-e))
	}
	return x
}

// fpConst is a gemmlowp 32-bit constant as an int16 raw value: v / 2^16
// rounded to nearest, ties away from zero.
func fpConst(v int32) int16 {
	q := v >> 16
	rem, thr := v&0xffff, int32(0x7fff)
	if v < 0 {
		thr++
	}
	if rem > thr {
		q++
	}
	return int16(q)
}

// fpExpQuarter is exp(a) for a Q0.15 a in [-1/4, 0).
func fpExpQuarter(a int16) int16 {
	ct := fpConst(1895147668) // exp(-1/8)
	third := fpConst(715827883)
	x := a + 1<<12 // a + 1/8
	x2 := fpMul(x, x)
	x3 := fpMul(x2, x)
	x4 := fpMul(x2, x2)
	t := fpDivPOT(fpMul(fpDivPOT(x4, 2)+x3, third)+x2, 1)
	return int16(min(max(int32(ct)+int32(fpMul(ct, x+t)), math.MinInt16), math.MaxInt16))
}

// fpExpBarrel lists exp(-2^k), k = -2..4, as gemmlowp's 32-bit Q0.31
// constants.
var fpExpBarrel = [7]int32{1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242}

// fpExpNeg is exp(a) for a <= 0 in Q(ib).(15-ib), ib in 0..7, Q0.15 out.
func fpExpNeg(a int16, ib int) int16 {
	fb := 15 - ib
	quarter := int16(1) << (fb - 2)
	amod := a&(quarter-1) - quarter
	r := fpExpQuarter(fpMulPOT(amod, ib))
	rem := amod - a
	for i, k := range fpExpBarrel {
		e := i - 2
		if ib > e && rem&(int16(1)<<(fb+e)) != 0 {
			r = fpMul(r, fpConst(k))
		}
	}
	if ib > 5 && int32(a) < int32(fpConst(-(1<<(36-ib)))) {
		r = 0
	}
	if a == 0 {
		r = math.MaxInt16
	}
	return r
}

// fpNewton returns the Q2.13 approximation of 1/(1+a) for a Q0.15 a in
// (0, 1): half the denominator, then three Newton-Raphson steps from
// 48/17 - 32/17 d.
func fpNewton(a int16) int16 {
	s := int32(a) + math.MaxInt16
	sign := int32(1)
	if s < 0 {
		sign = -1
	}
	hd := int16((s + sign) / 2)
	x := fpConst(1515870810) + fpMul(hd, fpConst(-1010580540))
	for range 3 {
		x += fpMulPOT(fpMul(x, 1<<13-fpMul(hd, x)), 2)
	}
	return x
}

// sigmoid16TFL is TFLite's integer LSTM gate sigmoid: a Q3.12 code in,
// Q0.15 out (gemmlowp's logistic).
func sigmoid16TFL(z int16) int16 {
	if z == 0 {
		return fpConst(1 << 30)
	}
	abs := z
	if z <= 0 {
		abs = -z
	}
	rp := fpMulPOT(fpNewton(fpExpNeg(-abs, 3)), 1)
	if z > 0 {
		return rp
	}
	return math.MaxInt16 - rp
}

// tanh16TFL is TFLite's integer LSTM tanh of a Q(ib).(15-ib) code,
// ib in 0..6 (3 for the gates, 15+E for a cell of scale 2^E), Q0.15 out
// (gemmlowp's tanh).
func tanh16TFL(z int16, ib int) int16 {
	if z == 0 {
		return 0
	}
	n := z
	if z > 0 {
		n = -z
	}
	t := fpMulPOT(fpNewton(fpExpNeg(n, ib+1))-1<<13, 2)
	if z < 0 {
		return -t
	}
	return t
}
