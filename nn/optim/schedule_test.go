package optim

import (
	"math"
	"testing"
)

func TestConstant(t *testing.T) {
	c := Constant(0.01)
	for _, s := range []int{0, 1, 1000} {
		if c.LR(s) != 0.01 {
			t.Fatalf("Constant LR(%d) = %v", s, c.LR(s))
		}
	}
}

func TestCosine(t *testing.T) {
	c := Cosine{Base: 1, Steps: 10, Min: 0.1, Warmup: 2}
	for _, tc := range []struct {
		step int
		want float64
	}{
		{0, 0.5}, {1, 1}, {2, 1}, {6, 0.55}, {4, 0.1 + 0.9*0.5*(1+math.Cos(math.Pi/4))},
		{9, 0.1 + 0.9*0.5*(1+math.Cos(math.Pi*7/8))}, {10, 0.1}, {50, 0.1},
	} {
		if got := c.LR(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	c = Cosine{Base: 0.2, Steps: 4}
	for step, want := range []float64{0.2, 0.1 * (1 + math.Cos(math.Pi/4)), 0.1, 0.1 * (1 + math.Cos(3*math.Pi/4)), 0} {
		if got := c.LR(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("no warmup: LR(%d) = %v, want %v", step, got, want)
		}
	}
	// Decreasing after the warmup.
	c = Cosine{Base: 1, Steps: 100, Min: 0, Warmup: 10}
	prev := math.Inf(1)
	for s := 10; s <= 100; s++ {
		lr := c.LR(s)
		if lr > prev {
			t.Fatalf("LR(%d) = %v > LR(%d) = %v", s, lr, s-1, prev)
		}
		prev = lr
	}
}
