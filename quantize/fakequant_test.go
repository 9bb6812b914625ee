package quantize

import (
	"math"
	"testing"

	"github.com/goqat/goqat/qmath"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestFakeQuantNudged(t *testing.T) {
	s, zp := qmath.Params(-0.1, 1.0, 8, false, false)
	x := []float32{-0.1, -1, 1.0, 5, 0, 0.5}
	y := make([]float32, len(x))
	FakeQuant(x, y, s, zp, 8, false)
	want := []float64{
		-23 * float64(s), // nudged min
		-23 * float64(s), // clamped
		232 * float64(s), // 1.0/s = 231.8 -> 232 = nudged max
		232 * float64(s), // clamped
		0,                // zero is exact
		116 * float64(s), // 0.5/s = 115.9
	}
	for i := range x {
		if !near(float64(y[i]), want[i]) {
			t.Errorf("fq(%v) = %v, want %v", x[i], y[i], want[i])
		}
	}
	if y[4] != 0 {
		t.Errorf("zero not exact: %v", y[4])
	}
}

func TestFakeQuantHalfToEven(t *testing.T) {
	// scale 0.25 (a power of two: x*4 is exact), symmetric narrow 8 bits.
	s, zp := qmath.Params(-31.75, 31.75, 8, true, true)
	if s != 0.25 || zp != 0 {
		t.Fatalf("Params = %v, %d", s, zp)
	}
	x := []float32{0.125, 0.375, 0.625, -0.125, -0.375, -0.625, 100, -100}
	want := []float32{0, 0.5, 0.5, 0, -0.5, -0.5, 31.75, -31.75}
	y := make([]float32, len(x))
	FakeQuant(x, y, s, zp, 8, true)
	for i := range x {
		if y[i] != want[i] {
			t.Errorf("fq(%v) = %v, want %v", x[i], y[i], want[i])
		}
	}
	// The integer values agree.
	for i, v := range x {
		q := qmath.QuantizeValue(v, s, zp, -127, 127)
		if float32(q)*s != want[i] {
			t.Errorf("qmath.QuantizeValue(%v) = %d, want %v", v, q, want[i]/s)
		}
	}
}

func TestFakeQuantNBits(t *testing.T) {
	// 2 bits symmetric narrow, scale 1: ternary with ties to even.
	x := []float32{0.6, 0.5, 1.5, -0.5, -0.6, -3}
	want := []float32{1, 0, 1, 0, -1, -1}
	y := make([]float32, len(x))
	FakeQuant(x, y, 1, 0, 2, true)
	for i := range x {
		if y[i] != want[i] {
			t.Errorf("2-bit fq(%v) = %v, want %v", x[i], y[i], want[i])
		}
	}
	// 4 bits asymmetric, scale 0.5, zero point -3: q in [-8, 7] is
	// real in [-2.5, 5].
	x = []float32{-3, -2.5, 1.25, 1.75, 4.9, 6}
	want = []float32{-2.5, -2.5, 1, 2, 5, 5}
	FakeQuant(x, y[:len(x)], 0.5, -3, 4, false)
	for i := range x {
		if y[i] != want[i] {
			t.Errorf("4-bit fq(%v) = %v, want %v", x[i], y[i], want[i])
		}
	}
}

func TestFakeQuantPerAxis(t *testing.T) {
	// Shape (2, 3), axis 1: column c uses scale[c].
	x := []float32{1.3, 1.3, 1.3, -0.3, 200, -0.1}
	scale := []float32{0.5, 1, 0.25}
	y := make([]float32, len(x))
	FakeQuantPerAxis(x, y, []int{2, 3}, 1, scale, []int32{0, 0, 0}, 8, true)
	want := []float32{1.5, 1, 1.25, -0.5, 127, 0}
	for i := range x {
		if y[i] != want[i] {
			t.Errorf("per-axis fq[%d](%v) = %v, want %v", i, x[i], y[i], want[i])
		}
	}
	// Axis 0 of (2, 1, 2): inner run of 2 values per channel.
	x = []float32{0.3, 0.7, 0.3, 0.7}
	FakeQuantPerAxis(x, y[:4], []int{2, 1, 2}, 0, []float32{1, 0.5}, []int32{0, 0}, 8, true)
	want = []float32{0, 1, 0.5, 0.5}
	for i := range x {
		if y[i] != want[i] {
			t.Errorf("axis-0 fq[%d](%v) = %v, want %v", i, x[i], y[i], want[i])
		}
	}
}

func TestFakeQuantGradSTE(t *testing.T) {
	s, zp := qmath.Params(-1, 1, 8, false, false)
	x := []float32{-2, -1, 0, 0.5, 1, 1.01, 3}
	dy := []float32{1, 2, 3, 4, 5, 6, 7}
	dx := make([]float32, len(x))
	FakeQuantGrad(x, dy, dx, s, zp, 8, false)
	// Nudged range [-128s, 127s] = [-1.0039, 0.99608]: 1 and 1.01 are outside.
	want := []float32{0, 2, 3, 4, 0, 0, 0}
	for i := range x {
		if dx[i] != want[i] {
			t.Errorf("ste(%v) = %v, want %v", x[i], dx[i], want[i])
		}
	}
}
