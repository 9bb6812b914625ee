package qmath

import (
	"math"
	"testing"
)

// TestTableFuncs checks the tabulated functions at hand-computed points
// and TableClamped against Table clamped entry by entry.
func TestTableFuncs(t *testing.T) {
	for _, c := range []struct {
		name    string
		f       func(float64) float64
		x, want float64
	}{
		{"hard_sigmoid", HardSigmoid, -4, 0}, {"hard_sigmoid", HardSigmoid, -3, 0}, {"hard_sigmoid", HardSigmoid, 0, 0.5},
		{"hard_sigmoid", HardSigmoid, 1.5, 0.75}, {"hard_sigmoid", HardSigmoid, 3, 1}, {"hard_sigmoid", HardSigmoid, 10, 1},
		{"hard_swish", HardSwish, -4, 0}, {"hard_swish", HardSwish, -1.5, -0.375}, {"hard_swish", HardSwish, 0, 0},
		{"hard_swish", HardSwish, 1, 2.0 / 3}, {"hard_swish", HardSwish, 3, 3}, {"hard_swish", HardSwish, 7, 7},
		{"silu", SiLU, 0, 0}, {"silu", SiLU, 1, 1 / (1 + math.Exp(-1))}, {"silu", SiLU, -2, -2 / (1 + math.Exp(2))},
		{"silu", SiLU, -1000, 0}, {"silu", SiLU, 1000, 1000},
		{"sigmoid", Sigmoid, 0, 0.5}, {"sigmoid", Sigmoid, 2, 1 / (1 + math.Exp(-2))},
	} {
		if got := c.f(c.x); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s(%v) = %v, want %v", c.name, c.x, got, c.want)
		}
	}
	full := Table(HardSwish, 0.05, -20, 0.03, -100)
	clamped := TableClamped(HardSwish, 0.05, -20, 0.03, -100, -100, 90)
	for i := range full {
		if want := min(max(int32(full[i]), -100), 90); int32(clamped[i]) != want {
			t.Fatalf("entry %d = %d, want %d (Table gives %d)", i, clamped[i], want, full[i])
		}
	}
	if full[0] != -100 || full[255] != 127 {
		t.Errorf("hard_swish table ends %d, %d, want the zero point -100 and 127 (saturated)", full[0], full[255])
	}
}
