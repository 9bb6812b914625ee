package kernels

import (
	"fmt"
	"math"
)

// Per-tensor fake quantization passes (quantize's fq.apply, fq.ste and
// min/max): the whole vectors of 16 go through AVX-512F assembly when the
// AVX512 path is active, the rest through the Go loops, which are the
// specification and the only code under -tags noasm. Each value is
// computed independently, with the operations of the Go loop, so the
// results are the same bits; MinMax's reduction picks the values the
// sequential loop picks (see there). None of these functions splits work
// across threads.

// fqTensorSIMD returns how many leading values of an n-value pass the
// active path computes with assembly (a multiple of 16) and counts the
// call.
func fqTensorSIMD(n int) int {
	if ActivePath() == AVX512 && n >= 16 {
		fqCalls[AVX512].Add(1)
		return n &^ 15
	}
	fqCalls[Generic].Add(1)
	return 0
}

// FakeQuant writes y[i] = round_half_even(clamp(x[i]*inv, lo, hi))*scale
// for i < len(x), the round done as (t + 1.5*2^23) - 1.5*2^23 (exact for
// |t| <= 2^22) and the clamp as "if t < lo { t = lo }; if t > hi { t = hi }"
// (a NaN stays NaN). y may be x; it must hold len(x) values.
func FakeQuant(x, y []float32, scale, inv, lo, hi float32) {
	if len(y) < len(x) {
		panic(fmt.Sprintf("kernels: FakeQuant: %d outputs for %d values", len(y), len(x)))
	}
	if len(x) == 0 {
		return
	}
	nv := fqTensorSIMD(len(x))
	if nv > 0 {
		c := [4]float32{scale, inv, lo, hi}
		f32FakeQuantAVX512(&x[0], &y[0], nv, &c)
	}
	fakeQuantGo(x[nv:], y[nv:len(x)], scale, inv, lo, hi)
}

// fakeQuantGo is FakeQuant's loop.
func fakeQuantGo(x, y []float32, scale, inv, lo, hi float32) {
	y = y[:len(x)]
	for i, v := range x {
		t := v * inv
		if t < lo {
			t = lo
		}
		if t > hi {
			t = hi
		}
		y[i] = ((t + foldRoundMagic) - foldRoundMagic) * scale
	}
}

// FakeQuantGrad writes the straight-through gradient dx[i] = dy[i] where
// t = x[i]*inv is inside [lo, hi] (neither t < lo nor t > hi), +0 elsewhere,
// for i < len(x). dx may be dy; dy and dx must hold len(x) values.
func FakeQuantGrad(x, dy, dx []float32, inv, lo, hi float32) {
	if len(dy) < len(x) || len(dx) < len(x) {
		panic(fmt.Sprintf("kernels: FakeQuantGrad: %d and %d gradients for %d values", len(dy), len(dx), len(x)))
	}
	if len(x) == 0 {
		return
	}
	nv := fqTensorSIMD(len(x))
	if nv > 0 {
		c := [4]float32{0, inv, lo, hi}
		f32FakeQuantGradAVX512(&x[0], &dy[0], &dx[0], nv, &c)
	}
	fakeQuantGradGo(x[nv:], dy[nv:len(x)], dx[nv:len(x)], inv, lo, hi)
}

// fakeQuantGradGo is FakeQuantGrad's loop.
func fakeQuantGradGo(x, dy, dx []float32, inv, lo, hi float32) {
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	for i, v := range x {
		t := v * inv
		g := math.Float32bits(dy[i]) // as bits: conditional moves, not branches
		if t < lo {
			g = 0
		}
		if t > hi {
			g = 0
		}
		dx[i] = math.Float32frombits(g)
	}
}

// MinMax returns what the loop
//
//	lo, hi = +Inf, -Inf
//	for _, v := range x {
//		if v < lo {
//			lo = v
//		}
//		if v > hi {
//			hi = v
//		}
//	}
//
// returns: the smallest and largest values, NaNs ignored (+Inf and -Inf if
// x holds no number), and where the extreme is zero, the first zero of x
// (+0 or -0, as the loop keeps the first of equal values). The assembly
// keeps 16 running extremes, which hold the same values; only zeros have
// two encodings, and those are then taken from x.
func MinMax(x []float32) (lo, hi float32) {
	if len(x) == 0 {
		return float32(math.Inf(1)), float32(math.Inf(-1))
	}
	nv := fqTensorSIMD(len(x))
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	if nv > 0 {
		var lanes [32]float32
		f32MinMaxAVX512(&x[0], nv, &lanes)
		for k := 0; k < 16; k++ {
			lo, hi = min(lo, lanes[k]), max(hi, lanes[16+k])
		}
	}
	l, h := minMaxGo(x[nv:])
	lo, hi = min(lo, l), max(hi, h)
	if nv > 0 && (lo == 0 || hi == 0) {
		for _, v := range x {
			if v == 0 {
				if lo == 0 {
					lo = v
				}
				if hi == 0 {
					hi = v
				}
				break
			}
		}
	}
	return lo, hi
}

// minMaxGo is MinMax's loop.
func minMaxGo(x []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}
