package quantize_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestCustomTrainStepMatchesFitQAT: the public training step on a QAT
// model (BatchNormalization folded, fake quant with moving-average
// ranges) reproduces Fit's weights and quantizer state bit for bit, as on
// a float model (docs/DESIGN.md, A custom training step).
func TestCustomTrainStepMatchesFitQAT(t *testing.T) {
	const n, bs, epochs = 40, 16, 2
	build := func() *nn.Model {
		f, err := nn.NewSequential(tensor.Shape{6, 6, 2}, nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3))
		if err != nil {
			t.Fatal(err)
		}
		f.InitWeights(9)
		q, err := quantize.Model(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Compile(nn.CompileOptions{Optimizer: optim.NewAdam(1e-2), Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}}); err != nil {
			t.Fatal(err)
		}
		return q
	}
	r := rand.New(rand.NewPCG(4, 4))
	x, y := tensor.New(n, 6, 6, 2), tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	fit := build()
	if _, err := fit.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: bs, Epochs: epochs, NoShuffle: true, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	own := build()
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
	bits := func(m *nn.Model) []uint32 {
		var b []uint32
		for _, p := range m.Params() {
			for _, v := range p.Value.Data {
				b = append(b, math.Float32bits(v))
			}
		}
		return b
	}
	if !slices.Equal(bits(fit), bits(own)) {
		t.Fatal("the custom training step's QAT parameters differ from Fit's")
	}
	// The quantizers' state shows in inference: the same outputs, bit for bit.
	pf, err := fit.Predict(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	po, err := own.Predict(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pf.Data, po.Data) {
		t.Fatal("the custom training step's QAT model predicts differently from Fit's")
	}
}
