package qmath

import (
	"fmt"
	"math"
)

// QRange returns the integer range of a signed bits-bit quantized value:
// [-2^(bits-1), 2^(bits-1)-1], or with narrow [-2^(bits-1)+1, 2^(bits-1)-1]
// (int8 narrow: [-127, 127]). bits must be in 2..8 (it panics otherwise: a
// programming error, specs are validated before).
func QRange(bits int, narrow bool) (qmin, qmax int32) {
	if bits < 2 || bits > 8 {
		panic(fmt.Sprintf("qmath: %d bits, want 2..8", bits))
	}
	qmin = -1 << (bits - 1)
	qmax = 1<<(bits-1) - 1
	if narrow {
		qmin++
	}
	return qmin, qmax
}

// Params is THE function that turns a real range into quantization
// parameters; training, conversion and export all call it, so the scale a
// model was trained with is the scale it ships with.
//
// The range is first extended to contain zero (min <= 0 <= max).
//
//   - symmetric: zeroPoint = 0 and scale = max(|min|, |max|) / qmax (int8
//     narrow: /127).
//   - asymmetric: scale = (max - min) / (qmax - qmin) and the zero point is
//     qmin - min/scale rounded half to even and clamped to [qmin, qmax]: the
//     range is nudged so that zero is exactly representable, as TensorFlow's
//     FakeQuantWithMinMaxVars does (which rounds half away from zero).
//
// The arithmetic is float64, the scale returned as float32. A degenerate
// range (both ends zero, or below 1e-30) gives scale 1 and zero point 0
// (symmetric) or qmin (asymmetric), which represents zero exactly.
func Params(min, max float32, bits int, narrow, symmetric bool) (scale float32, zeroPoint int32) {
	qmin, qmax := QRange(bits, narrow)
	lo := math.Min(float64(min), 0)
	hi := math.Max(float64(max), 0)
	if math.IsNaN(lo) || math.IsNaN(hi) {
		lo, hi = 0, 0
	}
	if symmetric {
		m := math.Max(-lo, hi)
		if !(m > 1e-30) {
			return 1, 0
		}
		return float32(m / float64(qmax)), 0
	}
	if !(hi-lo > 1e-30) {
		return 1, qmin
	}
	s := (hi - lo) / float64(qmax-qmin)
	zp := float64(qmin) - lo/s
	zp = math.Min(math.Max(math.RoundToEven(zp), float64(qmin)), float64(qmax))
	return float32(s), int32(zp)
}
