package optim

import "math"

// Schedule gives the learning rate of each optimizer step.
type Schedule interface {
	// LR returns the rate of the step taken after step steps (0 for the
	// first).
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c at every step.
func (c Constant) LR(step int) float64 { return float64(c) }

// Cosine is a linear warmup followed by a cosine decay:
//
//	step < Warmup:          Base * (step+1) / Warmup
//	Warmup <= step < Steps: Min + (Base-Min) * (1 + cos(pi*t)) / 2,
//	                        t = (step-Warmup) / (Steps-Warmup)
//	step >= Steps:          Min
//
// Steps counts the warmup, so the decay reaches Min at step Steps. With
// Steps <= Warmup the rate drops to Min right after the warmup.
type Cosine struct {
	// Base is the peak rate, reached at the end of the warmup.
	Base float64
	// Steps is the step at which the rate reaches Min.
	Steps int
	// Min is the final rate.
	Min float64
	// Warmup is the number of warmup steps (0: none).
	Warmup int
}

// LR returns the rate of the given step.
func (c Cosine) LR(step int) float64 {
	if step < c.Warmup {
		return c.Base * float64(step+1) / float64(c.Warmup)
	}
	if step >= c.Steps {
		return c.Min
	}
	t := float64(step-c.Warmup) / float64(c.Steps-c.Warmup)
	return c.Min + (c.Base-c.Min)*0.5*(1+math.Cos(math.Pi*t))
}
