package nn_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// customStepModel is a small CNN with nn.BatchNormalization (so that batch
// statistics and moving averages are part of what must match).
func customStepModel(t *testing.T) *nn.Model {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{6, 6, 2}, nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(9)
	if err := m.Compile(nn.CompileOptions{Optimizer: optim.NewAdam(1e-2), Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCustomTrainStepMatchesFit: the public training step (Forward in a
// training nn.Context, the loss's Compute, Backward, the optimizer's Step)
// run over the same batches reproduces Fit's weights and moving
// statistics bit for bit (docs/DESIGN.md, A custom training step).
func TestCustomTrainStepMatchesFit(t *testing.T) {
	const n, bs, epochs = 40, 16, 2
	r := rand.New(rand.NewPCG(4, 4))
	x, y := tensor.New(n, 6, 6, 2), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	fit := customStepModel(t)
	if _, err := fit.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: bs, Epochs: epochs, NoShuffle: true, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}

	own := customStepModel(t)
	opt := optim.NewAdam(1e-2)
	loss := nn.SparseCategoricalCrossentropy{FromLogits: true}
	c := &nn.Context{Training: true}
	step := 0
	for e := 0; e < epochs; e++ {
		for i0 := 0; i0 < n; i0 += bs {
			i1 := min(n, i0+bs)
			xb := &tensor.Tensor{Shape: append(tensor.Shape{i1 - i0}, x.Shape[1:]...), Data: x.Data[i0*72 : i1*72]}
			yb := &tensor.Tensor{Shape: tensor.Shape{i1 - i0}, Data: y.Data[i0:i1]}
			c.Step = step
			out, err := own.Forward(c, xb)
			if err != nil {
				t.Fatal(err)
			}
			grad := tensor.New(out[0].Shape...)
			loss.Compute(out[0], yb, grad)
			if err := own.Backward(c, grad); err != nil {
				t.Fatal(err)
			}
			opt.Step(own.Params())
			step++
		}
	}
	if !slices.Equal(paramBits(fit), paramBits(own)) {
		t.Fatal("the custom training step's weights differ from Fit's")
	}
	// The moving statistics (not trained parameters) too.
	a, b := fit.Layers()[1].(*nn.BatchNormalization), own.Layers()[1].(*nn.BatchNormalization)
	if !slices.Equal(a.MovingMean.Value.Data, b.MovingMean.Value.Data) || !slices.Equal(a.MovingVariance.Value.Data, b.MovingVariance.Value.Data) {
		t.Fatal("the custom training step's moving statistics differ from Fit's")
	}
	// And a step taken differently (one fewer) does not match: the test can fail.
	if opt.Step(own.Params()); slices.Equal(paramBits(fit), paramBits(own)) {
		t.Fatal("an extra optimizer step left the weights unchanged")
	}
}
