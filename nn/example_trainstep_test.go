package nn_test

import (
	"fmt"
	"log"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// A custom training step (Keras's train_step, GradientTape): Forward in a
// training Context, a loss and its gradient computed by the caller,
// Backward (which sets every parameter's Grad), then the optimizer's Step
// on the model's parameters. Here the loss distils a teacher into a
// student: a mix of the cross-entropy with the labels and the
// temperature-softened KL divergence to the teacher's logits (Hinton's
// knowledge distillation); the same loop trains a QAT model, which is an
// nn.Model too.
func ExampleModel_Backward_customTrainStep() {
	const n, features, classes, T, alpha = 64, 8, 4, 2.0, 0.5
	build := func(seed uint64) *nn.Model {
		m, err := nn.NewSequential(tensor.Shape{features}, nn.NewDense(16), nn.NewReLU(), nn.NewDense(classes))
		if err != nil {
			log.Fatal(err)
		}
		m.InitWeights(seed)
		return m
	}
	teacher, student := build(1), build(2)
	r := rand.New(rand.NewPCG(3, 3))
	x, y := tensor.New(n, features), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	tl, err := teacher.Forward(&nn.Context{}, x) // the teacher's logits, fixed
	if err != nil {
		log.Fatal(err)
	}
	target := append([]float32(nil), tl[0].Data...)
	for i := range y.Data { // labels: the teacher's answers
		y.Data[i] = float32(argmax(target[i*classes : (i+1)*classes]))
	}
	ce := nn.SparseCategoricalCrossentropy{FromLogits: true}
	opt := optim.NewAdam(1e-2)
	grad, dce := tensor.New(n, classes), tensor.New(n, classes)
	c := &nn.Context{Training: true}
	step := func() float64 {
		out, err := student.Forward(c, x)
		if err != nil {
			log.Fatal(err)
		}
		s := out[0].Data
		loss := alpha * ce.Compute(out[0], y, dce)
		for i := 0; i < n; i++ {
			ps, pt := softmax(s[i*classes:(i+1)*classes], T), softmax(target[i*classes:(i+1)*classes], T)
			for j := range ps {
				if pt[j] > 0 {
					loss += (1 - alpha) * T * T * pt[j] * math.Log(pt[j]/ps[j]) / n
				}
				// d/ds of T^2 KL(pt || ps(s/T)) is T (ps - pt).
				grad.Data[i*classes+j] = alpha*dce.Data[i*classes+j] + float32((1-alpha)*T*(ps[j]-pt[j])/n)
			}
		}
		if err := student.Backward(c, grad); err != nil {
			log.Fatal(err)
		}
		opt.Step(student.Params())
		return loss
	}
	first := step()
	last := first
	for i := 0; i < 200; i++ {
		last = step()
	}
	fmt.Println("distillation loss fell:", last < first/2)
	// Output: distillation loss fell: true
}

func softmax(z []float32, t float64) []float64 {
	p := make([]float64, len(z))
	m, sum := math.Inf(-1), 0.0
	for _, v := range z {
		m = math.Max(m, float64(v)/t)
	}
	for i, v := range z {
		p[i] = math.Exp(float64(v)/t - m)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func argmax(z []float32) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}
