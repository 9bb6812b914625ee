package optim

import (
	"math"
	"testing"
)

func TestScaleLearningRate(t *testing.T) {
	s := NewSGD(0.1, 0.9)
	if s.LearningRate() != 0.1 {
		t.Fatalf("rate %v", s.LearningRate())
	}
	s.ScaleLearningRate(0.5)
	s.ScaleLearningRate(0.5)
	if c, ok := s.LR.(Constant); !ok || float64(c) != 0.1*0.5*0.5 {
		t.Errorf("a constant rate scaled twice: %#v", s.LR)
	}
	a := NewAdam(1e-3)
	cos := Cosine{Base: 1e-3, Steps: 100, Min: 1e-5, Warmup: 10}
	a.LR = cos
	a.ScaleLearningRate(0.1)
	a.ScaleLearningRate(0.5)
	sc, ok := a.LR.(Scaled)
	if !ok || sc.Factor != 0.1*0.5 {
		t.Fatalf("a scaled schedule: %#v", a.LR)
	}
	for _, step := range []int{0, 5, 10, 50, 99, 200} {
		if got, want := sc.LR(step), cos.LR(step)*0.05; math.Abs(got-want) > 1e-18 {
			t.Errorf("step %d: rate %v, want %v", step, got, want)
		}
	}
	a.steps = 50
	if a.LearningRate() != sc.LR(50) {
		t.Errorf("LearningRate %v at step 50, want %v", a.LearningRate(), sc.LR(50))
	}
}
