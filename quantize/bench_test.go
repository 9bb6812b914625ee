package quantize

import (
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// benchStep times one training step (Forward, loss, Backward, Adam) of
// mnist-cnn on a batch of 128 MNIST images, float or QAT (Default8Bit).
func benchStep(b *testing.B, qat bool) {
	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		b.Fatal(err)
	}
	x := train.X.Batch(0, 128)
	y := train.Y.Batch(0, 128)
	m, err := models.Build("mnist-cnn", train.X.Shape[1:], train.Classes, 1)
	if err != nil {
		b.Fatal(err)
	}
	if qat {
		if m, err = Model(m); err != nil {
			b.Fatal(err)
		}
	}
	loss := nn.SparseCategoricalCrossentropy{FromLogits: true}
	opt := optim.NewAdam(1e-4)
	params := m.Params()
	var grad *tensor.Tensor
	c := &nn.Context{Training: true}
	step := func() {
		outs, err := m.Forward(c, x)
		if err != nil {
			b.Fatal(err)
		}
		g := tensor.Ensure(&grad, outs[0].Shape...)
		loss.Compute(outs[0], y, g)
		if err := m.Backward(c, g); err != nil {
			b.Fatal(err)
		}
		opt.Step(params)
		c.Step++
	}
	step() // warm up buffers
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
}

// BenchmarkFloatStep is one float mnist-cnn training step, batch 128.
func BenchmarkFloatStep(b *testing.B) { benchStep(b, false) }

// BenchmarkQATStep is one QAT (Default8Bit, folded BN) mnist-cnn training
// step, batch 128: the target is at most 1.3x BenchmarkFloatStep.
func BenchmarkQATStep(b *testing.B) { benchStep(b, true) }
