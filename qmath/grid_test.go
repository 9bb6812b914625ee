package qmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeInt8MatchesQuantizeValue holds the slice form to the scalar
// one, ties, NaN and out-of-range values included.
func TestQuantizeInt8MatchesQuantizeValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := []float32{0, 0.5, 1.5, -0.5, -2.5, 1e9, -1e9, float32(math.NaN()), float32(math.Inf(1))}
	for i := 0; i < 1000; i++ {
		x = append(x, float32(rng.NormFloat64()*3))
	}
	for _, c := range []struct {
		scale      float32
		zp, lo, hi int32
	}{{0.5, 0, -128, 127}, {0.0371, -17, -128, 127}, {1, 3, -8, 7}} {
		q := make([]int8, len(x))
		QuantizeInt8(x, q, c.scale, c.zp, c.lo, c.hi)
		for i, v := range x {
			if want := QuantizeValue(v, c.scale, c.zp, c.lo, c.hi); int32(q[i]) != want {
				t.Fatalf("scale %v zp %d: x=%v got %d, want %d", c.scale, c.zp, v, q[i], want)
			}
		}
	}
}

// TestDequantize checks x = scale*(q - zp) on the ends of the range.
func TestDequantize(t *testing.T) {
	q := []int8{-128, -3, 0, 127}
	x := make([]float32, len(q))
	Dequantize(q, x, 0.5, -3)
	for i, want := range []float32{-62.5, 0, 1.5, 65} {
		if x[i] != want {
			t.Errorf("Dequantize(%d) = %v, want %v", q[i], x[i], want)
		}
	}
}

// TestActivationRange checks the fused clamps: relu from the zero point,
// relu6 up to the code of 6, nothing for other names.
func TestActivationRange(t *testing.T) {
	for _, c := range []struct {
		act    string
		scale  float32
		zp     int32
		lo, hi int32
	}{
		{"", 0.1, -20, -128, 127},
		{"relu", 0.1, -20, -20, 127},
		{"relu6", 0.1, -20, -20, 40},     // 6/0.1 = 60 steps above the zero point
		{"relu6", 0.01, -128, -128, 127}, // 6 lies beyond the range
		{"tanh", 0.1, 5, -128, 127},
	} {
		lo, hi := ActivationRange(-128, 127, c.scale, c.zp, c.act)
		if lo != c.lo || hi != c.hi {
			t.Errorf("ActivationRange(%q, %v, %d) = [%d, %d], want [%d, %d]", c.act, c.scale, c.zp, lo, hi, c.lo, c.hi)
		}
	}
}

// TestDivRoundEven checks ties to even, negative numerators and exact
// quotients against float64 rounding.
func TestDivRoundEven(t *testing.T) {
	for a := int64(-50); a <= 50; a++ {
		for _, b := range []int64{1, 2, 3, 4, 9} {
			want := int64(math.RoundToEven(float64(a) / float64(b)))
			if got := DivRoundEven(a, b); got != want {
				t.Fatalf("DivRoundEven(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestTable checks a lookup table entry by entry against QuantizeValue of
// the function, and the table's ends.
func TestTable(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	tab := Table(sig, 0.1, 3, 1.0/256, -128)
	for q := -128; q < 128; q++ {
		x := 0.1 * float64(q-3)
		want := QuantizeValue(float32(sig(x)), 1.0/256, -128, -128, 127)
		if int32(tab[q+128]) != want {
			t.Fatalf("entry %d = %d, want %d", q, tab[q+128], want)
		}
	}
	if tab[0] >= tab[255] {
		t.Errorf("sigmoid table not increasing: %d .. %d", tab[0], tab[255])
	}
}
