package optim

import "github.com/goqat/goqat/nn"

// Scaled multiplies a schedule's rate by a factor: ReduceLROnPlateau's
// reductions (nn.LRScaler) wrap the optimizer's schedule in it.
type Scaled struct {
	// Base is the scaled schedule.
	Base Schedule
	// Factor multiplies Base's rate.
	Factor float64
}

// LR returns Base's rate of the step times Factor.
func (s Scaled) LR(step int) float64 { return s.Base.LR(step) * s.Factor }

// scale returns s with its rate multiplied by f: a Constant stays a
// Constant, a Scaled gets its factor multiplied, anything else is wrapped.
func scale(s Schedule, f float64) Schedule {
	switch v := s.(type) {
	case Constant:
		return Constant(float64(v) * f)
	case Scaled:
		v.Factor *= f
		return v
	}
	return Scaled{Base: s, Factor: f}
}

// LearningRate returns the schedule's rate for the next step (Step rounds
// it to float32).
func (s *SGD) LearningRate() float64 { return rateAt(s.LR, s.steps, "SGD") }

// ScaleLearningRate multiplies the rate of every following step by f.
func (s *SGD) ScaleLearningRate(f float64) { s.LR = scale(s.LR, f) }

// LearningRate returns the schedule's rate for the next step (Step rounds
// it to float32).
func (a *Adam) LearningRate() float64 { return rateAt(a.LR, a.steps, "Adam") }

// rateAt is lrAt in float64.
func rateAt(s Schedule, step int, who string) float64 {
	if s == nil {
		panic("optim: " + who + " has no learning-rate schedule (LR is nil)")
	}
	return s.LR(step)
}

// ScaleLearningRate multiplies the rate of every following step by f.
func (a *Adam) ScaleLearningRate(f float64) { a.LR = scale(a.LR, f) }

// The optimizers' rates can be changed by nn.ReduceLROnPlateau.
var (
	_ nn.LRScaler = (*SGD)(nil)
	_ nn.LRScaler = (*Adam)(nil)
)
