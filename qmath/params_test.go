package qmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestParamsHandComputed(t *testing.T) {
	cases := []struct {
		name              string
		min, max          float32
		bits              int
		narrow, symmetric bool
		scale             float64
		zp                int32
	}{
		// 2/255; zero point from min -128 + 127.5 = -0.5: half to even gives 0
		// (TensorFlow's round half away from zero would give -1).
		{"tie to even", -1, 1, 8, false, false, 2.0 / 255, 0},
		// 1.1/255; -128 + 0.1/s = -104.818 -> -105: nudged range [-23s, 232s].
		{"nudged", -0.1, 1.0, 8, false, false, 1.1 / 255, -105},
		// The range is extended to contain 0.
		{"contains zero", 0.5, 2, 8, false, false, 2.0 / 255, -128},
		{"all negative", -2, -0.5, 8, false, false, 2.0 / 255, 127},
		// Symmetric narrow: max|x| / 127.
		{"symmetric narrow", -0.5, 1.27, 8, true, true, 0.01, 0},
		// 4 bits asymmetric: [-8, 7], scale 3/15, zp -8 + 5 = -3.
		{"4 bits", -1, 2, 4, false, false, 0.2, -3},
		// 4 bits symmetric narrow: [-7, 7].
		{"4 bits symmetric", -3.5, 1, 4, true, true, 0.5, 0},
		// 2 bits symmetric narrow: ternary [-1, 1].
		{"2 bits", -0.3, 0.7, 2, true, true, 0.7, 0},
		{"degenerate", 0, 0, 8, false, false, 1, -128},
	}
	for _, c := range cases {
		s, zp := Params(c.min, c.max, c.bits, c.narrow, c.symmetric)
		if !near(float64(s), c.scale) || zp != c.zp {
			t.Errorf("%s: Params(%v, %v, %d) = %v, %d; want %v, %d", c.name, c.min, c.max, c.bits, s, zp, c.scale, c.zp)
		}
	}
}

func TestQRange(t *testing.T) {
	for _, c := range []struct {
		bits       int
		narrow     bool
		qmin, qmax int32
	}{{8, false, -128, 127}, {8, true, -127, 127}, {4, false, -8, 7}, {4, true, -7, 7}, {2, true, -1, 1}} {
		lo, hi := QRange(c.bits, c.narrow)
		if lo != c.qmin || hi != c.qmax {
			t.Errorf("QRange(%d, %v) = %d, %d; want %d, %d", c.bits, c.narrow, lo, hi, c.qmin, c.qmax)
		}
	}
}

func TestMagicRoundingIsHalfToEven(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := NewGrid(1, 0, -128, 127)
	for i := 0; i < 200000; i++ {
		v := float32(r.Float64()*260 - 130)
		if i%4 == 0 {
			v = float32(math.Round(float64(v)*2) / 2) // exact halves
		}
		got := p.Round(v)
		want := float32(math.Min(math.Max(math.RoundToEven(float64(v)), -128), 127))
		if got != want {
			t.Fatalf("round(%v) = %v, want %v", v, got, want)
		}
	}
}
