package bounds

import (
	"fmt"
	"math"
)

// MaxExtent bounds every window size, stride, dilation and padding a model
// may ask for (2^30): a dimension (at most MaxValues) plus a few of them,
// or one times another, stays far from overflowing an int, so the geometry
// computed from them needs no further checks.
const MaxExtent = 1 << 30

// MaxValues bounds the values of one tensor of one sample (2^28; 1 GiB of
// float32).
const MaxValues = 1 << 28

// Mul returns a*b, or ok false if a or b is negative or the product
// overflows an int.
func Mul(a, b int) (p int, ok bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	if a != 0 && b > math.MaxInt/a {
		return 0, false
	}
	return a * b, true
}

// Add returns a+b, or ok false if a or b is negative or the sum overflows
// an int.
func Add(a, b int) (s int, ok bool) {
	if a < 0 || b < 0 || a > math.MaxInt-b {
		return 0, false
	}
	return a + b, true
}

// Sum returns the sum of non-negative ints, or ok false on a negative term
// or an overflow.
func Sum(xs ...int) (s int, ok bool) {
	for _, x := range xs {
		if s, ok = Add(s, x); !ok {
			return 0, false
		}
	}
	return s, true
}

// Product returns the product of non-negative ints, or ok false on a
// negative factor or an overflow.
func Product(xs ...int) (p int, ok bool) {
	p = 1
	for _, x := range xs {
		if p, ok = Mul(p, x); !ok {
			return 0, false
		}
	}
	return p, true
}

// Values returns the number of values of a per-sample shape, checking that
// every dimension is positive and that the count is at most MaxValues.
func Values(shape []int) (int, error) {
	p := 1
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("shape %v has a non-positive dimension", shape)
		}
		var ok bool
		if p, ok = Mul(p, d); !ok || p > MaxValues {
			return 0, fmt.Errorf("shape %v has more than %d values", shape, MaxValues)
		}
	}
	return p, nil
}

// SatMul multiplies counts, saturating at math.MaxInt64; a negative factor
// (an unknown or invalid count) saturates too, so that a plan refuses it.
func SatMul(xs ...int64) int64 {
	zero := false
	for _, x := range xs {
		if x < 0 {
			return math.MaxInt64
		}
		zero = zero || x == 0
	}
	if zero {
		return 0
	}
	p := int64(1)
	for _, x := range xs {
		if p > math.MaxInt64/x {
			return math.MaxInt64
		}
		p *= x
	}
	return p
}

// SatAdd adds counts, saturating at math.MaxInt64; a negative term
// saturates too.
func SatAdd(xs ...int64) int64 {
	s := int64(0)
	for _, x := range xs {
		if x < 0 || s > math.MaxInt64-x {
			return math.MaxInt64
		}
		s += x
	}
	return s
}
