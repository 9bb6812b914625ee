package qmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactRound is the reference: round_half_even(acc * M0 / 2^shift) in
// exact rational arithmetic.
func exactRound(acc int64, m0 int64, shift uint) int64 {
	num := new(big.Int).Mul(big.NewInt(acc), big.NewInt(m0))
	den := new(big.Int).Lsh(big.NewInt(1), shift)
	q, r := new(big.Int), new(big.Int)
	q.DivMod(num, den, r) // Euclidean: 0 <= r < den, q = floor
	twice := new(big.Int).Lsh(r, 1)
	switch twice.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

func TestRequantizeHandCases(t *testing.T) {
	half, _ := NewMultiplier(0.5)
	if half.M0 != 1<<30 || half.Shift != 31 {
		t.Fatalf("0.5 -> %+v", half)
	}
	for _, c := range []struct{ acc, want int32 }{
		{1, 0}, {3, 2}, {5, 2}, {7, 4}, {-1, 0}, {-3, -2}, {-5, -2}, {2, 1}, {0, 0},
	} {
		if got := half.Apply(c.acc); got != c.want {
			t.Errorf("0.5 * %d = %d, want %d", c.acc, got, c.want)
		}
	}
	third, _ := NewMultiplier(1.0 / 3)
	for _, c := range []struct{ acc, want int32 }{{3, 1}, {4, 1}, {5, 2}, {-5, -2}, {300, 100}} {
		if got := third.Apply(c.acc); got != c.want {
			t.Errorf("%d/3 = %d, want %d", c.acc, got, c.want)
		}
	}
	big, _ := NewMultiplier(1 << 20)
	if got := big.Apply(1 << 20); got != math.MaxInt32 {
		t.Errorf("saturation: %d", got)
	}
	if _, err := NewMultiplier(-1); err == nil {
		t.Error("negative multiplier accepted")
	}
	if _, err := NewMultiplier(math.NaN()); err == nil {
		t.Error("NaN multiplier accepted")
	}
	if z, _ := NewMultiplier(0); z.Apply(12345) != 0 {
		t.Error("zero multiplier")
	}
}

// TestRequantizeRandom checks Apply against exact rational rounding of the
// fixed-point multiplier and against the float64 reference
// round_half_even(acc*M) over random multipliers and accumulators, ties
// included.
func TestRequantizeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ties, diff := 0, 0
	for i := 0; i < 200000; i++ {
		real := math.Exp2(-30 + 34*r.Float64()) // 2^-30 .. 2^4
		m, err := NewMultiplier(real)
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(m.Real()-real) / real; rel > 1.0/(1<<31) {
			t.Fatalf("multiplier %v stored as %v (relative error %g)", real, m.Real(), rel)
		}
		var acc int32
		switch i % 4 {
		case 0:
			acc = int32(r.Uint32())
		case 1:
			acc = int32(r.IntN(1<<17) - 1<<16)
		case 2:
			// A tie: acc*M0 = (2k+1) * 2^(Shift-1), possible when the
			// mantissa's trailing zeros allow it; build M directly.
			k := r.IntN(20) + 1
			m = Multiplier{M0: 1 << 30, Shift: int32(30 + k)}
			acc = int32((2*r.IntN(1<<12) + 1 - 1<<12) << (k - 1))
			real = m.Real()
			ties++
		default:
			acc = int32(r.IntN(2001) - 1000)
		}
		got := m.Apply(acc)
		want := exactRound(int64(acc), int64(m.M0), uint(m.Shift))
		want = max(min(want, math.MaxInt32), math.MinInt32)
		if int64(got) != want {
			t.Fatalf("Apply(%d) with %+v = %d, exact %d", acc, m, got, want)
		}
		f := math.RoundToEven(float64(acc) * real)
		if math.Abs(f) < 1<<30 {
			if d := math.Abs(f - float64(got)); d > 1 {
				t.Fatalf("Apply(%d) with %v = %d, float64 reference %v", acc, real, got, f)
			} else if d == 1 {
				// Only near a tie: the stored multiplier moves acc*M by
				// at most |acc*M| * 2^-31.
				v := float64(acc) * real
				if dist := math.Abs(math.Abs(v-math.Trunc(v)) - 0.5); dist > math.Abs(v)/(1<<30)+1e-9 {
					t.Fatalf("Apply(%d) with %v = %d, float64 %v, %g from a tie", acc, real, got, f, dist)
				}
				diff++
			}
		}
	}
	if ties == 0 {
		t.Fatal("no ties tested")
	}
	t.Logf("%d ties, %d one-off vs float64 (near-ties)", ties, diff)
}

func TestRoundShiftTies(t *testing.T) {
	for _, c := range []struct {
		p    int64
		s    uint
		want int64
	}{{6, 2, 2}, {10, 2, 2}, {14, 2, 4}, {-6, 2, -2}, {-10, 2, -2}, {-14, 2, -4}, {7, 2, 2}, {-7, 2, -2}, {5, 0, 5}, {1 << 62, 70, 0}} {
		if got := RoundShift(c.p, c.s); got != c.want {
			t.Errorf("RoundShift(%d, %d) = %d, want %d", c.p, c.s, got, c.want)
		}
	}
}

func TestCommonMultipliers(t *testing.T) {
	m, s, err := CommonMultipliers(0.75, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	// 3*0.75 + 1*0.25 = 2.5 -> 2 (half to even); 5*0.75+0.25*-1 = 3.5 -> 4
	if got := RoundShift(3*m[0]+1*m[1], s); got != 2 {
		t.Errorf("got %d, want 2", got)
	}
	if got := RoundShift(5*m[0]-1*m[1], s); got != 4 {
		t.Errorf("got %d, want 4", got)
	}
	if _, _, err := CommonMultipliers(0, 0); err == nil {
		t.Error("all-zero accepted")
	}
}
