package quantize_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"github.com/goqat/goqat/threads"
)

// randLogits returns (rows, classes) logits with a spread of several units.
func randLogits(rows, classes int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	t := tensor.New(rows, classes)
	for i := range t.Data {
		t.Data[i] = float32(3 * r.NormFloat64())
	}
	return t
}

// TestKLDivergenceGradient checks the distillation term's gradient against
// central finite differences of the loss, for several temperatures, and
// its value against a direct float64 evaluation of T^2 KL(p_t || p_s).
func TestKLDivergenceGradient(t *testing.T) {
	const rows, classes = 5, 7
	for _, temp := range []float64{0.5, 1, 2, 4, 10} {
		s, tl := randLogits(rows, classes, 1), randLogits(rows, classes, 2)
		grad := tensor.New(rows, classes)
		loss, err := quantize.KLDivergence(s, tl, temp, grad)
		if err != nil {
			t.Fatal(err)
		}
		// Direct evaluation.
		want := 0.0
		for r := 0; r < rows; r++ {
			ps := naiveSoftmax(s.Data[r*classes:(r+1)*classes], temp)
			pt := naiveSoftmax(tl.Data[r*classes:(r+1)*classes], temp)
			for j := range ps {
				want += pt[j] * math.Log(pt[j]/ps[j])
			}
		}
		want *= temp * temp / rows
		if math.Abs(loss-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Fatalf("T=%v: loss %v, want %v", temp, loss, want)
		}
		const eps = 1e-2
		for i := range s.Data {
			orig := s.Data[i]
			s.Data[i] = orig + eps
			up, _ := quantize.KLDivergence(s, tl, temp, nil)
			s.Data[i] = orig - eps
			down, _ := quantize.KLDivergence(s, tl, temp, nil)
			s.Data[i] = orig
			// float32 logits: the step actually taken is what float32 holds.
			h := float64(orig+eps) - float64(orig-eps)
			num := (up - down) / h
			if d := math.Abs(num - float64(grad.Data[i])); d > 1e-4*math.Max(1, math.Abs(num)) {
				t.Fatalf("T=%v, logit %d: gradient %v, finite difference %v", temp, i, grad.Data[i], num)
			}
		}
	}
}

func naiveSoftmax(z []float32, temp float64) []float64 {
	p := make([]float64, len(z))
	sum := 0.0
	for i, v := range z {
		p[i] = math.Exp(float64(v) / temp)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

// TestKLDivergenceZeroAndErrors: a student equal to the teacher has zero
// loss and gradient; bad shapes and temperatures are errors.
func TestKLDivergenceZeroAndErrors(t *testing.T) {
	s := randLogits(3, 4, 5)
	g := tensor.New(3, 4)
	loss, err := quantize.KLDivergence(s, s.Clone(), 3, g)
	if err != nil || math.Abs(loss) > 1e-12 {
		t.Fatalf("equal logits: loss %v, err %v", loss, err)
	}
	for i, v := range g.Data {
		if math.Abs(float64(v)) > 1e-7 {
			t.Fatalf("equal logits: gradient %d is %v", i, v)
		}
	}
	for _, c := range []struct {
		s, t, g *tensor.Tensor
		temp    float64
		want    string
	}{
		{s, randLogits(3, 5, 1), nil, 1, "differ in shape"},
		{s, s, nil, 0, "temperature"},
		{s, s, nil, math.NaN(), "temperature"},
		{s, s, tensor.New(2), 1, "gradient of 2 values"},
		{nil, s, nil, 1, "nil logits"},
	} {
		if _, err := quantize.KLDivergence(c.s, c.t, c.temp, c.g); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", err, c.want)
		}
	}
}

// deepFloat is a trained float model large enough for the kernels to split
// work across threads: two Conv+BN+ReLU blocks and a Dense head.
func deepFloat(t *testing.T, x, y *tensor.Tensor) *nn.Model {
	t.Helper()
	c1, c2 := nn.NewConv2D(16, 3, 3), nn.NewConv2D(16, 3, 3)
	c1.Padding, c2.Padding = "same", "same"
	c1.UseBias, c2.UseBias = false, false
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		c1, nn.NewBatchNormalization(), nn.NewReLU(),
		c2, nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFineTuneDistillReproducible: the same seed gives bit-identical
// weights and quantizer state on 1 and 2 threads and across runs, another
// seed other weights; the teacher is left as it was; the result reports
// the plan and the History.
func TestFineTuneDistillReproducible(t *testing.T) {
	defer threads.Set(threads.N())
	ctx := context.Background()
	x, y := brightHalf(96, 3)
	float := deepFloat(t, x, y)
	teacherBefore := saved(t, float)
	run := func(n int, seed uint64) ([]byte, *quantize.FineTuneResult) {
		threads.Set(n)
		r, err := quantize.FineTuneDistill(ctx, float, x, y, quantize.FineTuneOptions{
			Scheme: quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}, Calibrate: 32,
			Epochs: 2, BatchSize: 16, LearningRate: 1e-3, FreezeBNAfter: quantize.FreezeBNHalfway,
			Seed: seed, Verbose: nn.VerboseSilent, ValidationX: x, ValidationY: y,
		}, quantize.Distillation{Alpha: 0.7, Temperature: 3})
		if err != nil {
			t.Fatal(err)
		}
		return saved(t, r.Model), r
	}
	one, r := run(1, 5)
	two, _ := run(2, 5)
	again, _ := run(2, 5)
	other, _ := run(2, 6)
	if !bytes.Equal(one, two) || !bytes.Equal(two, again) {
		t.Fatal("the same seed gave different weights on 1 and 2 threads or across runs")
	}
	if bytes.Equal(one, other) {
		t.Fatal("another seed gave the same weights")
	}
	if !bytes.Equal(teacherBefore, saved(t, float)) {
		t.Fatal("distillation changed the teacher")
	}
	if r.Steps != 12 || r.FreezeBNAfter != 6 || r.Model.Step() != 12 {
		t.Fatalf("steps %d, freeze %d, model step %d; want 12, 6, 12", r.Steps, r.FreezeBNAfter, r.Model.Step())
	}
	h := r.History
	if len(h.Loss) != 2 || len(h.Accuracy) != 2 || len(h.ValAccuracy) != 2 || len(h.EpochSeconds) != 2 {
		t.Fatalf("history %+v, want 2 epochs of each metric", h)
	}
}

// TestDistillFollowsTheTeacher: with Alpha 1 the student learns the
// teacher's answers even where they contradict the labels, which only the
// distillation term can teach.
func TestDistillFollowsTheTeacher(t *testing.T) {
	ctx := context.Background()
	x, y := brightHalf(128, 4)
	teacher := trainedFloat(t, x, y)
	// Labels that say the opposite: a label-only student learns them.
	flipped := y.Clone()
	for i := range flipped.Data {
		flipped.Data[i] = 1 - flipped.Data[i]
	}
	conv := nn.NewConv2D(4, 3, 3)
	student, err := nn.NewSequential(tensor.Shape{8, 8, 1}, conv, nn.NewReLU(), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	student.InitWeights(9)
	var logged []float64
	h, err := quantize.Distill(ctx, student, x, flipped, quantize.DistillOptions{
		Distillation: quantize.Distillation{Teacher: teacher, Alpha: 1, Temperature: 2},
		Optimizer:    optim.NewAdam(1e-2), Epochs: 6, BatchSize: 16, Seed: 1, Verbose: nn.VerboseSilent,
		OnEpochEnd: func(_ int, logs map[string]float64) error {
			logged = append(logged, logs["loss"])
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != 6 || logged[5] != h.Loss[5] || !(h.Loss[5] < h.Loss[0]/2) {
		t.Fatalf("losses %v (logged %v): want 6 epochs, falling by half", h.Loss, logged)
	}
	// Accuracy against the flipped labels is low: the student follows the
	// teacher, which agrees with the true labels.
	if acc := h.Accuracy[5]; acc > 0.2 {
		t.Fatalf("accuracy against the contradicting labels %v: the student did not follow the teacher", acc)
	}
}

// TestDistillErrors: bad models, options and data are one-line errors;
// cancellation returns the context's error.
func TestDistillErrors(t *testing.T) {
	x, y := brightHalf(32, 1)
	teacher := trainedFloat(t, x, y)
	student, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	three, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	other, err := nn.NewSequential(tensor.Shape{4, 4, 1}, nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	d := quantize.Distillation{Teacher: teacher}
	silent := func(o quantize.DistillOptions) quantize.DistillOptions {
		o.Verbose = nn.VerboseSilent
		return o
	}
	cases := []struct {
		name    string
		student *nn.Model
		x, y    *tensor.Tensor
		o       quantize.DistillOptions
		want    string
	}{
		{"no teacher", student, x, y, silent(quantize.DistillOptions{}), "needs a teacher"},
		{"no student", nil, x, y, silent(quantize.DistillOptions{Distillation: d}), "needs a student"},
		{"self", teacher, x, y, silent(quantize.DistillOptions{Distillation: d}), "other than the student"},
		{"outputs", three, x, y, silent(quantize.DistillOptions{Distillation: d}), "the student gives"},
		{"inputs", other, x, y, silent(quantize.DistillOptions{Distillation: d}), "the student takes"},
		{"alpha", student, x, y, silent(quantize.DistillOptions{Distillation: quantize.Distillation{Teacher: teacher, Alpha: 1.5}}), "alpha"},
		{"temperature", student, x, y, silent(quantize.DistillOptions{Distillation: quantize.Distillation{Teacher: teacher, Temperature: -1}}), "temperature"},
		{"epochs", student, x, y, silent(quantize.DistillOptions{Distillation: d, Epochs: -1}), "must be positive"},
		{"clip", student, x, y, silent(quantize.DistillOptions{Distillation: d, ClipNorm: math.Inf(1)}), "ClipNorm"},
		{"no data", student, nil, y, silent(quantize.DistillOptions{Distillation: d}), "must not be nil"},
		{"labels", student, x, tensor.New(31), silent(quantize.DistillOptions{Distillation: d}), "shape"},
		{"class range", student, x, func() *tensor.Tensor { z := y.Clone(); z.Data[0] = 7; return z }(), silent(quantize.DistillOptions{Distillation: d}), "y:"},
	}
	for _, c := range cases {
		if _, err := quantize.Distill(context.Background(), c.student, c.x, c.y, c.o); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error with %q", c.name, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := quantize.Distill(ctx, student, x, y, silent(quantize.DistillOptions{Distillation: d})); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if _, err := quantize.FineTuneDistill(context.Background(), teacher, x, y, quantize.FineTuneOptions{Epochs: 1, Resume: "x"}, quantize.Distillation{}); err == nil || !strings.Contains(err.Error(), "checkpoints") {
		t.Errorf("resume: got %v", err)
	}
}

// TestDistillProgress: the progress bar and the one-line-per-epoch output
// name the epoch and the metrics.
func TestDistillProgress(t *testing.T) {
	x, y := brightHalf(32, 2)
	teacher := trainedFloat(t, x, y)
	student, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	student.InitWeights(1)
	for _, v := range []int{nn.VerboseBar, nn.VerboseEpoch} {
		var buf bytes.Buffer
		if _, err := quantize.Distill(context.Background(), student, x, y, quantize.DistillOptions{
			Distillation: quantize.Distillation{Teacher: teacher}, Epochs: 2, Verbose: v, Progress: &buf,
			ValidationX: x, ValidationY: y,
		}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{"Epoch 2/2", "loss", "val_accuracy"} {
			if !strings.Contains(out, want) {
				t.Errorf("verbose %d: output %q lacks %q", v, out, want)
			}
		}
	}
}
