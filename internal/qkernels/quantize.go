package qkernels

import "sync/atomic"

// quantizeAsm counts QuantizeFloats calls served by assembly, for tests.
var quantizeAsm atomic.Int64

// QuantizeFloats writes the int8 codes of the floats x into q, as the
// input quantizer computes them (docs/DESIGN.md, Numerics):
//
//	t := x[i] * inv                  // float32
//	t = min(max(t, lo), hi)          // lo = qmin-zp, hi = qmax-zp
//	if t is NaN { t = 0 }
//	q[i] = int8(round_half_even(t) + zp)
//
// lo <= hi must lie within [-128-zp, 127-zp], so that every code fits
// int8. q must be at least as long as x. The AVX-512 path (with the VNNI
// path active) converts with round to nearest even, which is the float
// rounding qmath.Grid.Round emulates: the same bytes on every path.
func QuantizeFloats(q []int8, x []float32, inv, lo, hi float32, zp int32) {
	n := len(x)
	if n == 0 {
		return
	}
	q = q[:n]
	i := 0
	if ActivePath() == VNNI && n >= 16 {
		i = n &^ 15
		quantizeF32AVX512(&q[0], &x[0], i, inv, lo, hi, zp)
		quantizeAsm.Add(1)
	}
	for ; i < n; i++ {
		t := x[i] * inv
		if t < lo {
			t = lo
		}
		if t > hi {
			t = hi
		}
		if t != t {
			t = 0
		}
		q[i] = int8(int32(roundHalfEven(t)) + zp)
	}
}

// roundHalfEven rounds t (|t| < 2^22) to the nearest integer, ties to
// even, by the float32 magic-number addition.
func roundHalfEven(t float32) float32 {
	const magic = 1.5 * (1 << 23)
	return (t + magic) - magic
}
