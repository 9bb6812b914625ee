package nn_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// poison multiplies its input by a learned scalar; at optimizer step
// BadStep its Backward reports the gradient Bad instead of the true one.
type poison struct {
	nn.Base
	BadStep int
	Bad     float32

	scale   *nn.Param
	x       *tensor.Tensor
	out, dx *tensor.Tensor
	dxs     [1]*tensor.Tensor
}

func (l *poison) Type() string { return "Poison" }
func (l *poison) Config() any  { return nil }
func (l *poison) Params() []*nn.Param {
	if l.scale == nil {
		return nil
	}
	return []*nn.Param{l.scale}
}

func (l *poison) Build(in []tensor.Shape) (tensor.Shape, error) {
	l.scale = nn.NewParam("scale", true, 1)
	l.scale.Value.Data[0] = 1
	return in[0].Clone(), nil
}

// Forward: x (N, ...) -> out (N, ...) = scale*x.
func (l *poison) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	l.x = in[0]
	out := tensor.Ensure(&l.out, l.x.Shape...)
	for i, v := range l.x.Data {
		out.Data[i] = v * l.scale.Value.Data[0]
	}
	return out
}

// Backward: dOut (N, ...) -> dx (N, ...), dscale = sum(dOut*x).
func (l *poison) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	dx := tensor.Ensure(&l.dx, dOut.Shape...)
	var g float32
	for i, d := range dOut.Data {
		dx.Data[i] = d * l.scale.Value.Data[0]
		g += d * l.x.Data[i]
	}
	if c.Step == l.BadStep {
		g = l.Bad
	}
	l.scale.Grad.Data[0] = g
	l.dxs[0] = dx
	return l.dxs[:]
}

func guardData() (x, y *tensor.Tensor) {
	r := rand.New(rand.NewPCG(4, 4))
	x, y = tensor.New(40, 8), tensor.New(40)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for i := range y.Data {
		y.Data[i] = float32(i % 3)
	}
	return x, y
}

func guardModel(t *testing.T, badStep int, bad float32) *nn.Model {
	t.Helper()
	p := &poison{BadStep: badStep, Bad: bad}
	p.SetName("poison")
	m, err := nn.NewSequential(tensor.Shape{8}, nn.NewDense(4), p, nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewSGD(0.1, 0.9)}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFitNonFiniteGradient checks that a NaN or infinite gradient stops Fit
// with an error naming the step and the parameter, before any update from
// that step, and that the last checkpoint on disk is the good one before.
func TestFitNonFiniteGradient(t *testing.T) {
	x, y := guardData()
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		m := guardModel(t, 5, bad)
		dir := t.TempDir()
		var last []uint32
		o := nn.FitOptions{BatchSize: 10, Epochs: 3, Verbose: nn.VerboseSilent,
			Checkpoint: &nn.CheckpointOptions{Dir: dir, EveryNSteps: 2},
			OnBatchEnd: func(int, float64) { last = paramBits(m) }}
		h, err := m.Fit(context.Background(), x, y, o)
		var nf *nn.NonFiniteError
		if !errors.As(err, &nf) {
			t.Fatalf("bad gradient %v: err = %v, want a NonFiniteError", bad, err)
		}
		// Step 5 is the second batch of the second epoch (4 per epoch).
		if nf.What != "gradient" || nf.Param != "poison/scale" || nf.Step != 5 || nf.Epoch != 2 || nf.Batch != 2 || nf.Index != 0 ||
			math.Float64bits(nf.Value) != math.Float64bits(float64(bad)) {
			t.Errorf("error fields %+v", *nf)
		}
		msg := err.Error()
		for _, want := range []string{`"poison/scale"`, "step 5", "epoch 2", "batch 2", "gradient", fmtVal(bad)} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
		if i := firstDiff(paramBits(m), last); i >= 0 {
			t.Errorf("the failing step changed weight %d", i)
		}
		if m.Step() != 5 || len(h.Epoch) != 1 {
			t.Errorf("step %d, %d epochs after the error", m.Step(), len(h.Epoch))
		}
		info, err := nn.ReadCheckpointInfo(nn.CheckpointPath(dir))
		if err != nil || info.FitStep != 4 {
			t.Fatalf("last good checkpoint: %v, %+v", err, info)
		}
		// It resumes, and fails again at the same step.
		r := guardModel(t, 5, bad)
		o.Checkpoint, o.OnBatchEnd, o.Resume = nil, nil, nn.CheckpointPath(dir)
		if _, err := r.Fit(context.Background(), x, y, o); !errors.As(err, &nf) || nf.Step != 5 {
			t.Errorf("resumed run: %v", err)
		}
	}
}

func fmtVal(v float32) string {
	if math.IsNaN(float64(v)) {
		return "NaN"
	}
	return "+Inf"
}

// TestFitNonFiniteLoss checks that an infinite input gives a loss error at
// the batch that holds it.
func TestFitNonFiniteLoss(t *testing.T) {
	x, y := guardData()
	x.Data[25*8+3] = float32(math.Inf(-1)) // sample 25: batch 3 of 4 without shuffling
	m := guardModel(t, -1, 0)
	_, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 10, NoShuffle: true, Verbose: nn.VerboseSilent})
	var nf *nn.NonFiniteError
	if !errors.As(err, &nf) || nf.What != "loss" || nf.Step != 2 || nf.Batch != 3 || nf.Param != "" {
		t.Fatalf("err = %v (%+v)", err, nf)
	}
	if !strings.Contains(err.Error(), "loss is NaN at step 2 (epoch 1, batch 3)") {
		t.Errorf("message %q", err)
	}
}

// TestFitClipNorm checks gradient clipping by global norm against the
// unclipped update: with plain SGD (lr 1) the clipped update is the
// unclipped one scaled to norm ClipNorm; a ClipNorm above the norm changes
// nothing, bit for bit.
func TestFitClipNorm(t *testing.T) {
	x, y := guardData()
	step := func(clip float64) (before, after []float32) {
		m, err := nn.NewSequential(tensor.Shape{8}, nn.NewDense(6), nn.NewReLU(), nn.NewDense(3))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewSGD(1, 0)}); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			before = append(before, p.Value.Data...)
		}
		if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 40, NoShuffle: true, ClipNorm: clip, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			after = append(after, p.Value.Data...)
		}
		return before, after
	}
	delta := func(b, a []float32) ([]float64, float64) {
		d := make([]float64, len(a))
		var s float64
		for i := range a {
			d[i] = float64(b[i]) - float64(a[i])
			s += d[i] * d[i]
		}
		return d, math.Sqrt(s)
	}
	b0, a0 := step(0)
	d0, n0 := delta(b0, a0)
	if n0 < 0.05 {
		t.Fatalf("unclipped update norm %v too small for the test", n0)
	}
	clip := n0 / 4
	b1, a1 := step(clip)
	d1, n1 := delta(b1, a1)
	if math.Abs(n1-clip) > 1e-5*clip+1e-6 {
		t.Errorf("clipped update norm %v, want %v", n1, clip)
	}
	for i := range d1 {
		if want := d0[i] * clip / n0; math.Abs(d1[i]-want) > 1e-5*clip+1e-6 {
			t.Fatalf("clipped update %d: %v, want %v", i, d1[i], want)
		}
	}
	_, a2 := step(n0 * 2)
	for i := range a2 {
		if math.Float32bits(a2[i]) != math.Float32bits(a0[i]) {
			t.Fatalf("a ClipNorm above the norm changed weight %d", i)
		}
	}
	m := guardModel(t, -1, 0)
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{ClipNorm: bad, Verbose: nn.VerboseSilent}); err == nil || !strings.Contains(err.Error(), "ClipNorm") {
			t.Errorf("ClipNorm %v: err = %v", bad, err)
		}
	}
}
