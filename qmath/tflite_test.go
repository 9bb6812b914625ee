package qmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// The TFLite and XNNPACK arithmetic checked against scalar references in
// exact rational arithmetic (math/big): the formulas as TFLite and XNNPACK
// define them, not the bit tricks that compute them.

// ratRound rounds r to an integer: ties away from zero (away), up (toward
// +inf, up) or to even.
func ratRound(r *big.Rat, mode string) int64 {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	q, m := new(big.Int).DivMod(num, den, new(big.Int)) // floor division, m >= 0
	twice := new(big.Int).Lsh(m, 1)
	c := twice.Cmp(den)
	up := c > 0
	if c == 0 {
		switch mode {
		case "away":
			up = r.Sign() > 0
		case "up":
			up = true
		case "even":
			up = q.Bit(0) == 1
		}
	}
	if up {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// pow2 returns 2^e as a rational.
func pow2(e int) *big.Rat {
	if e >= 0 {
		return new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(e)))
	}
	return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), uint(-e)))
}

// refTFLiteMultiplier is TFLite's QuantizeMultiplier: real = q * 2^e with
// q in [0.5, 1) as a Q31 mantissa rounded half away from zero (a mantissa
// of 2^31 renormalized), zero below an exponent of -31.
func refTFLiteMultiplier(real float64) (m0 int64, exp int) {
	if real == 0 {
		return 0, 0
	}
	r := new(big.Rat).SetFloat64(real)
	exp = 0
	for r.Cmp(pow2(exp)) >= 0 {
		exp++
	}
	for new(big.Rat).Mul(r, big.NewRat(2, 1)).Cmp(pow2(exp)) < 0 {
		exp--
	}
	m0 = ratRound(new(big.Rat).Mul(r, pow2(31-exp)), "away")
	if m0 == 1<<31 {
		m0, exp = 1<<30, exp+1
	}
	if exp < -31 {
		return 0, 0
	}
	return m0, exp
}

func TestNewTFLiteMultiplier(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	reals := []float64{0, 1, 0.5, 0.75, math.Ldexp(1<<31-1, -1), math.Ldexp(1, -32), math.Ldexp(1, -33), math.Ldexp(0.99, -32),
		math.Ldexp(1<<30+0.5, -31), math.Ldexp(1<<31-0.5, -31), math.Ldexp(1<<31-0.25, -31), math.Ldexp(1<<30+1.5, -40)}
	for range 2000 {
		reals = append(reals, math.Ldexp(0.5+r.Float64()/2, r.IntN(63)-33))
	}
	for _, real := range reals {
		m, err := NewTFLiteMultiplier(real)
		if err != nil {
			t.Fatalf("%v: %v", real, err)
		}
		m0, exp := refTFLiteMultiplier(real)
		if int64(m.M0) != m0 || (m0 != 0 && m.Exponent() != exp) {
			t.Fatalf("NewTFLiteMultiplier(%v) = (%d, exponent %d), want (%d, %d)", real, m.M0, m.Exponent(), m0, exp)
		}
		if m0 != 0 && (m.Exponent() < -31 || m.Exponent() > 30) {
			t.Fatalf("%v: exponent %d outside [-31, 30]", real, m.Exponent())
		}
	}
	// A mantissa tie rounds away from zero here, to even in
	// NewMultiplier.
	tie := math.Ldexp(1<<30+0.5, -31)
	a, _ := NewTFLiteMultiplier(tie)
	b, _ := NewMultiplier(tie)
	if a.M0 != 1<<30+1 || b.M0 != 1<<30 {
		t.Errorf("tie %v: TFLite mantissa %d (want 2^30+1), goqat %d (want 2^30)", tie, a.M0, b.M0)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1), 1 << 30, math.Ldexp(1<<31-0.4, -1)} {
		if _, err := NewTFLiteMultiplier(bad); err == nil {
			t.Errorf("NewTFLiteMultiplier(%v): no error", bad)
		}
	}
}

// refTFLiteMultiply is TFLite's two-rounding rescaling: x shifted left by
// the positive exponent (wrapping in int32), the product with the Q31
// mantissa rounded to an integer, ties up (saturated), then divided by
// 2^-exponent rounded half away from zero.
func refTFLiteMultiply(x int32, m0 int64, exp int) int64 {
	if m0 == 0 {
		return 0
	}
	xs := int32(int64(x) << uint(max(exp, 0))) // wraps as int32 does
	if int64(xs) == math.MinInt32 && m0 == math.MinInt32 {
		return math.MaxInt32
	}
	high := ratRound(new(big.Rat).Mul(new(big.Rat).SetInt64(int64(xs)*m0), pow2(-31)), "up")
	high = max(min(high, math.MaxInt32), math.MinInt32)
	return ratRound(new(big.Rat).Mul(new(big.Rat).SetInt64(high), pow2(-max(-exp, 0))), "away")
}

// testAccumulators returns accumulators: edges, ties and random values of
// every magnitude.
func testAccumulators(r *rand.Rand) []int32 {
	xs := []int32{0, 1, -1, 2, -2, 3, -3, 127, -128, 255, -255, 1 << 20, -(1 << 20), math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1}
	for range 3000 {
		v := int32(r.Uint32() >> uint(r.IntN(32)))
		if r.IntN(2) == 0 {
			v = -v
		}
		xs = append(xs, v)
	}
	return xs
}

// testMultipliers returns mantissas (random, powers of two, ties-prone
// ones with trailing zeros, the extremes) with exponents from -31 to 30.
func testMultipliers(r *rand.Rand) []Multiplier {
	var ms []Multiplier
	for exp := -31; exp <= 30; exp++ {
		for _, m0 := range []int32{1 << 30, 1<<30 + 1<<29, math.MaxInt32, 1<<30 + 1<<20, int32(1<<30 + r.IntN(1<<30))} {
			ms = append(ms, Multiplier{M0: m0, Shift: int32(31 - exp)})
		}
	}
	return ms
}

func TestTFLiteMultiply(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := testAccumulators(r)
	for _, m := range testMultipliers(r) {
		for i, x := range xs {
			if m.Exponent() > 0 && i%7 != 0 {
				continue // fewer left shifts: they mostly wrap
			}
			want := refTFLiteMultiply(x, int64(m.M0), m.Exponent())
			if got := TFLiteMultiply(x, m); int64(got) != want {
				t.Fatalf("TFLiteMultiply(%d, M0 %d, exponent %d) = %d, want %d", x, m.M0, m.Exponent(), got, want)
			}
		}
	}
	// Ties of both roundings (the first up, the second away from zero),
	// and where two roundings differ from one: 1*0.25 is 0.5 after the
	// first and 1 after the second.
	half := Multiplier{M0: 1 << 30, Shift: 32} // 0.25
	for x, want := range map[int32]int32{2: 1, -2: -1, 6: 2, -6: -2, 1: 1, -1: 0} {
		if got := TFLiteMultiply(x, half); got != want {
			t.Errorf("TFLiteMultiply(%d, 0.25) = %d, want %d", x, got, want)
		}
	}
	m, _ := NewTFLiteMultiplier(float64(float32(1.0/256)) / float64(float32(0.015)))
	if got, one := TFLiteMultiply(151, m), Requantize(151, m, 0, math.MinInt32, math.MaxInt32); got != 40 || one != 39 {
		t.Errorf("151 * 0.2604: two roundings %d (want 40), one %d (want 39)", got, one)
	}
	if got := SaturatingRoundingDoublingHighMul(math.MinInt32, math.MinInt32); got != math.MaxInt32 {
		t.Errorf("SaturatingRoundingDoublingHighMul(MinInt32, MinInt32) = %d", got)
	}
	for e := 0; e <= 31; e++ {
		for _, x := range xs[:200] {
			want := ratRound(new(big.Rat).Mul(new(big.Rat).SetInt64(int64(x)), pow2(-e)), "away")
			if got := RoundingDivideByPOT(x, e); int64(got) != want {
				t.Fatalf("RoundingDivideByPOT(%d, %d) = %d, want %d", x, e, got, want)
			}
		}
	}
}

func TestTFLiteMultiplySingle(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs := testAccumulators(r)
	for _, m := range testMultipliers(r) {
		for _, x := range xs {
			v := ratRound(new(big.Rat).Mul(new(big.Rat).SetInt64(int64(x)*int64(m.M0)), pow2(-int(m.Shift))), "up")
			want := max(min(v, math.MaxInt32), math.MinInt32)
			if got := TFLiteMultiplySingle(x, m); int64(got) != want {
				t.Fatalf("TFLiteMultiplySingle(%d, M0 %d, shift %d) = %d, want %d", x, m.M0, m.Shift, got, want)
			}
		}
	}
}

// refFP32 rounds x to float32 (nearest, ties to even) as a rational.
func refFP32(x *big.Rat) *big.Rat {
	f, _ := new(big.Float).SetPrec(24).SetMode(big.ToNearestEven).SetRat(x).Float32()
	return new(big.Rat).SetFloat64(float64(f))
}

func TestRequantizeFP32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	xs := testAccumulators(r)
	scales := []float32{1, 0.5, 0.25, 0.1, 1.0 / 3, 255, 3e-5, 1e-9}
	for range 50 {
		scales = append(scales, float32(math.Ldexp(0.5+r.Float64()/2, r.IntN(40)-32)))
	}
	for _, s := range scales {
		for _, x := range xs {
			prod := refFP32(new(big.Rat).Mul(refFP32(new(big.Rat).SetInt64(int64(x))), new(big.Rat).SetFloat64(float64(s))))
			want := max(min(ratRound(prod, "even"), math.MaxInt32), math.MinInt32)
			if got := RequantizeFP32(x, s); int64(got) != want {
				t.Fatalf("RequantizeFP32(%d, %v) = %d, want %d", x, s, got, want)
			}
		}
	}
	// Ties go to even.
	for x, want := range map[int32]int32{1: 0, 3: 2, 5: 2, -1: 0, -3: -2} {
		if got := RequantizeFP32(x, 0.5); got != want {
			t.Errorf("RequantizeFP32(%d, 0.5) = %d, want %d", x, got, want)
		}
	}
}

func TestFP32AddParams(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ratios := [][2]float32{{1, 1}, {0.5, 0.25}, {1.0 / 1024, 1.0 / 1024}, {255.9, 0.01}, {0.3, 0.7}}
	for range 300 {
		ratios = append(ratios, [2]float32{float32(math.Ldexp(r.Float64(), r.IntN(12)-6)) + 1.0/1024, float32(math.Ldexp(r.Float64(), r.IntN(12)-6)) + 1.0/1024})
	}
	for _, rr := range ratios {
		p, err := NewFP32AddParams(rr[0], rr[1])
		if err != nil {
			t.Fatalf("%v: %v", rr, err)
		}
		// The shift puts the larger multiplier in [2^20, 2^21) (2^21 when
		// it rounds up); each multiplier is its ratio times 2^shift,
		// rounded half to even.
		big32 := float64(max(rr[0], rr[1]))
		shift := 0
		for math.Ldexp(big32, shift) < 1<<20 {
			shift++
		}
		for math.Ldexp(big32, shift) >= 1<<21 {
			shift--
		}
		wantA := ratRound(new(big.Rat).Mul(new(big.Rat).SetFloat64(float64(rr[0])), pow2(shift)), "even")
		wantB := ratRound(new(big.Rat).Mul(new(big.Rat).SetFloat64(float64(rr[1])), pow2(shift)), "even")
		if int(p.Shift) != shift || int64(p.MA) != wantA || int64(p.MB) != wantB {
			t.Fatalf("NewFP32AddParams(%v) = %+v, want MA %d MB %d shift %d", rr, p, wantA, wantB, shift)
		}
		for range 50 {
			a, b := int32(r.IntN(256)-128), int32(r.IntN(256)-128)
			za, zb := int32(r.IntN(256)-128), int32(r.IntN(256)-128)
			sum := int64(a-za)*int64(p.MA) + int64(b-zb)*int64(p.MB)
			want := ratRound(new(big.Rat).Mul(new(big.Rat).SetInt64(sum), pow2(-shift)), "up")
			if got := p.Apply(a, b, za, zb); int64(got) != want {
				t.Fatalf("%+v Apply(%d, %d, %d, %d) = %d, want %d", p, a, b, za, zb, got, want)
			}
		}
	}
	for _, bad := range [][2]float32{{1.0 / 2048, 1}, {1, 256}, {float32(math.NaN()), 1}} {
		if _, err := NewFP32AddParams(bad[0], bad[1]); err == nil {
			t.Errorf("NewFP32AddParams(%v): no error", bad)
		}
	}
}

func TestDivRoundAway(t *testing.T) {
	for a := int64(-300); a <= 300; a++ {
		for _, b := range []int64{1, 2, 3, 4, 9, 49, 64} {
			want := ratRound(big.NewRat(a, b), "away")
			if got := DivRoundAway(a, b); got != want {
				t.Fatalf("DivRoundAway(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}
