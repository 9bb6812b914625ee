package quantize

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/tensor"
)

// KLDivergence is the distillation term of knowledge distillation
// (docs/DESIGN.md, QAT: distillation): the Kullback-Leibler divergence
// KL(p_t || p_s) between the teacher's and the student's class
// distributions softened by the temperature T, p = softmax(logits / T),
// scaled by T^2 so that its gradient keeps the size of a cross-entropy's
// as T changes, and averaged over the rows. student and teacher are logits
// of the same shape (N, C), or (..., C) with the classes last; every other
// element is a row. It writes dLoss/dStudent, T (p_s - p_t) / rows, into
// grad (as many values as the logits) if grad is not nil. The teacher
// receives no gradient. Sums run in float64 in a fixed order, so the result
// does not depend on the thread count.
func KLDivergence(student, teacher *tensor.Tensor, temperature float64, grad *tensor.Tensor) (float64, error) {
	if student == nil || teacher == nil {
		return 0, fmt.Errorf("quantize: KLDivergence: nil logits")
	}
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return 0, fmt.Errorf("quantize: KLDivergence: temperature %v must be a positive number", temperature)
	}
	if len(student.Shape) == 0 || !student.Shape.Equal(teacher.Shape) || len(student.Data) != student.Shape.Size() || len(teacher.Data) != len(student.Data) {
		return 0, fmt.Errorf("quantize: KLDivergence: student logits %s and teacher logits %s differ in shape", student.Shape, teacher.Shape)
	}
	c := student.Shape[len(student.Shape)-1]
	if c < 1 || len(student.Data) == 0 {
		return 0, fmt.Errorf("quantize: KLDivergence: no classes in logits %s", student.Shape)
	}
	rows := len(student.Data) / c
	if grad != nil && len(grad.Data) != len(student.Data) {
		return 0, fmt.Errorf("quantize: KLDivergence: gradient of %d values for logits %s", len(grad.Data), student.Shape)
	}
	ps, pt := make([]float64, c), make([]float64, c)
	sum := 0.0
	for r := 0; r < rows; r++ {
		s, t := student.Data[r*c:(r+1)*c], teacher.Data[r*c:(r+1)*c]
		ls := softmaxT(ps, s, temperature)
		lt := softmaxT(pt, t, temperature)
		// KL = sum_j pt_j (log pt_j - log ps_j), with log p_j = z_j/T - lse.
		kl := 0.0
		for j := range pt {
			if pt[j] > 0 {
				kl += pt[j] * ((float64(t[j])/temperature - lt) - (float64(s[j])/temperature - ls))
			}
		}
		sum += kl
		if grad != nil {
			g := grad.Data[r*c : (r+1)*c]
			for j := range g {
				g[j] = float32(temperature * (ps[j] - pt[j]) / float64(rows))
			}
		}
	}
	return temperature * temperature * sum / float64(rows), nil
}

// softmaxT writes softmax(z / t) into p (len(z)) and returns the log of
// its normaliser, log sum_j exp(z_j / t), computed stably.
func softmaxT(p []float64, z []float32, t float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v)/t)
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		// Non-finite logits: NaN everywhere, which the caller's check on
		// the loss reports.
		for i := range p {
			p[i] = math.NaN()
		}
		return math.NaN()
	}
	sum := 0.0
	for i, v := range z {
		p[i] = math.Exp(float64(v)/t - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return m + math.Log(sum)
}
