package nn

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// testSGD is plain SGD for tests (package optim imports nn, so nn's own
// tests cannot use it).
type testSGD struct{ lr float32 }

func (o testSGD) Step(ps []*Param) {
	for _, p := range ps {
		if !p.Trainable {
			continue
		}
		for i, g := range p.Grad.Data {
			p.Value.Data[i] -= o.lr * g
		}
	}
}

// blobs returns n samples of dim features around one random center per
// class (spread 0.5, centers about 3 apart), and their labels.
func blobs(seed uint64, n, classes, dim int) (x, y *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 99))
	centers := randTensor(r, classes, dim)
	for i := range centers.Data {
		centers.Data[i] *= 3
	}
	x, y = tensor.New(n, dim), tensor.New(n)
	for i := 0; i < n; i++ {
		c := r.IntN(classes)
		y.Data[i] = float32(c)
		for j := 0; j < dim; j++ {
			x.Data[i*dim+j] = centers.Data[c*dim+j] + float32(r.NormFloat64()*0.5)
		}
	}
	return x, y
}

func newMLP(t *testing.T) *Model {
	t.Helper()
	m := must(t)(NewSequential(tensor.Shape{8}, NewDense(16), NewReLU(), NewDropout(0.2), NewDense(3)))
	if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.05}, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// newCNN is a Conv2D-BN-ReLU-MaxPool-Flatten-Dense model on 8x8x1 images.
func newCNN(t *testing.T) *Model {
	t.Helper()
	m := must(t)(NewSequential(tensor.Shape{8, 8, 1},
		NewConv2D(8, 3, 3), NewBatchNormalization(), NewReLU(), NewMaxPooling2D(2, 2),
		NewFlatten(), NewDense(32), NewReLU(), NewDense(3)))
	if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.02}, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// weightBits returns every parameter value's bits.
func weightBits(m *Model) []uint32 {
	var b []uint32
	for _, p := range m.Params() {
		for _, v := range p.Value.Data {
			b = append(b, math.Float32bits(v))
		}
	}
	return b
}

func sameBits(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var silent = FitOptions{BatchSize: 16, Epochs: 2, Verbose: VerboseSilent}

func TestFitReproducible(t *testing.T) {
	x, y := blobs(1, 100, 3, 8)
	run := func(seed uint64) (*Model, *History) {
		m := newMLP(t)
		o := silent
		o.Seed = seed
		h, err := m.Fit(context.Background(), x, y, o)
		if err != nil {
			t.Fatal(err)
		}
		return m, h
	}
	a, ha := run(5)
	b, hb := run(5)
	c, _ := run(6)
	if !sameBits(weightBits(a), weightBits(b)) {
		t.Errorf("same seed: weights differ")
	}
	if ha.Loss[1] != hb.Loss[1] || ha.Accuracy[1] != hb.Accuracy[1] {
		t.Errorf("same seed: histories differ: %v %v", ha.Loss, hb.Loss)
	}
	if sameBits(weightBits(a), weightBits(c)) {
		t.Errorf("different seeds: identical weights")
	}
}

func TestFitThreadIndependent(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	r := rand.New(rand.NewPCG(2, 2))
	x := randTensor(r, 96, 8, 8, 1)
	y := tensor.New(96)
	for i := range y.Data {
		y.Data[i] = float32(i % 3)
	}
	var bits [2][]uint32
	for i, th := range []int{1, 2} {
		kernels.SetThreads(th)
		m := newCNN(t)
		if _, err := m.Fit(context.Background(), x, y, FitOptions{BatchSize: 32, Epochs: 2, Seed: 3, Verbose: VerboseSilent}); err != nil {
			t.Fatal(err)
		}
		bits[i] = weightBits(m)
	}
	if !sameBits(bits[0], bits[1]) {
		t.Errorf("weights trained with 1 and 2 threads differ")
	}
}

func TestFitLearns(t *testing.T) {
	x, y := blobs(7, 300, 3, 8)
	vx, vy := blobs(7, 300, 3, 8) // same centers (same seed), fresh noise below
	r := rand.New(rand.NewPCG(8, 8))
	for i := range vx.Data {
		vx.Data[i] += float32(r.NormFloat64() * 0.1)
	}
	m := newMLP(t)
	o := FitOptions{BatchSize: 32, Epochs: 15, Verbose: VerboseSilent, ValidationX: vx, ValidationY: vy}
	h, err := m.Fit(context.Background(), x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Epoch); n != 15 || len(h.Loss) != n || len(h.Accuracy) != n || len(h.ValLoss) != n || len(h.ValAccuracy) != n || len(h.EpochSeconds) != n {
		t.Fatalf("history lengths: %+v", h)
	}
	t.Logf("blobs: loss %.4f -> %.4f, accuracy %.3f -> %.3f", h.Loss[0], h.Loss[14], h.Accuracy[0], h.Accuracy[14])
	if acc := h.Accuracy[14]; acc <= 0.95 {
		t.Errorf("training accuracy %.3f, want > 0.95", acc)
	}
	loss, acc, err := m.Evaluate(context.Background(), vx, vy, EvaluateOptions{Verbose: VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	if acc <= 0.95 || loss != h.ValLoss[14] || acc != h.ValAccuracy[14] {
		t.Errorf("Evaluate: loss %v acc %v, history %v %v", loss, acc, h.ValLoss[14], h.ValAccuracy[14])
	}

	// Regression with MSE: the loss goes down.
	rx := randTensor(r, 200, 4)
	ry := tensor.New(200, 1)
	for i := 0; i < 200; i++ {
		ry.Data[i] = 2*rx.Data[4*i] - rx.Data[4*i+1] + 0.5*rx.Data[4*i+3] + 1
	}
	reg := must(t)(NewSequential(tensor.Shape{4}, NewDense(1)))
	if err := reg.Compile(CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{0.05}}); err != nil {
		t.Fatal(err)
	}
	h, err = reg.Fit(context.Background(), rx, ry, FitOptions{Epochs: 10, Verbose: VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MSE: loss %.4f -> %.6f", h.Loss[0], h.Loss[9])
	if h.Loss[9] > 0.01*h.Loss[0] || len(h.Accuracy) != 0 {
		t.Errorf("MSE loss %v does not fall to 1%%", h.Loss)
	}
	if _, acc, _ := reg.Evaluate(context.Background(), rx, ry, EvaluateOptions{Verbose: VerboseSilent}); !math.IsNaN(acc) {
		t.Errorf("MSE accuracy %v, want NaN", acc)
	}
}

func TestFitCancel(t *testing.T) {
	x, y := blobs(1, 100, 3, 8)
	for _, stopEpoch := range []int{0, 1} {
		m := newMLP(t)
		ctx, cancel := context.WithCancel(context.Background())
		batches := 0
		o := silent
		o.BatchSize = 10
		o.Epochs = 3
		o.OnBatchEnd = func(b int, loss float64) {
			batches++
			if batches == 10*stopEpoch+3 {
				cancel()
			}
		}
		h, err := m.Fit(ctx, x, y, o)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if batches != 10*stopEpoch+3 || len(h.Epoch) != stopEpoch || m.Step() != batches {
			t.Errorf("ran %d batches, %d epochs, step %d after cancel", batches, len(h.Epoch), m.Step())
		}
	}
	m := newMLP(t)
	stop := errors.New("enough")
	h, err := m.Fit(context.Background(), x, y, FitOptions{Epochs: 5, Verbose: VerboseSilent, OnEpochEnd: func(e int, logs map[string]float64) error {
		if _, ok := logs["accuracy"]; !ok {
			t.Errorf("logs %v lack accuracy", logs)
		}
		if e == 1 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || len(h.Epoch) != 2 {
		t.Errorf("OnEpochEnd stop: %v, %d epochs", err, len(h.Epoch))
	}
}

func TestFitBadInput(t *testing.T) {
	ctx := context.Background()
	x, y := blobs(1, 100, 3, 8)
	m := must(t)(NewSequential(tensor.Shape{8}, NewDense(10)))
	if _, err := m.Fit(ctx, x, y, silent); err == nil || !strings.Contains(err.Error(), "not compiled") {
		t.Errorf("uncompiled: %v", err)
	}
	// Compiling without an optimizer is fine for evaluation; Fit refuses.
	if err := m.Compile(CompileOptions{Loss: MeanSquaredError{}}); err != nil {
		t.Fatalf("Compile without optimizer: %v", err)
	}
	if _, err := m.Fit(ctx, x, y, silent); err == nil || !strings.Contains(err.Error(), "without an optimizer") {
		t.Errorf("Fit without optimizer: %v", err)
	}
	for _, c := range []struct {
		o    CompileOptions
		want string
	}{
		{CompileOptions{Optimizer: testSGD{}}, "no loss"},
		{CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{}, Metrics: []string{"accuracy"}}, "needs integer class labels"},
		{CompileOptions{Loss: SparseCategoricalCrossentropy{}, Optimizer: testSGD{}, Metrics: []string{"auc"}}, `unknown metric "auc"`},
	} {
		if err := m.Compile(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile: got %v, want %q", err, c.want)
		}
	}
	if err := m.Compile(CompileOptions{Loss: &SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.1}, Metrics: []string{"acc"}}); err != nil {
		t.Fatal(err)
	}
	big := tensor.New(400)
	big.Data[345] = 12
	frac := tensor.New(100)
	frac.Data[3] = 1.5
	neg := tensor.New(100)
	neg.Data[0] = -1
	for _, c := range []struct {
		name string
		x, y *tensor.Tensor
		want string
	}{
		{"x shape", tensor.New(100, 7), y, "x: got shape (N, 7), want (N, 8)"},
		{"x rank", tensor.New(100), y, "x: got shape (100,), want (N, 8)"},
		{"no samples", tensor.New(0, 8), tensor.New(0), "x holds no samples (shape (0, 8))"},
		{"lengths", x, tensor.New(99), "x has 100 samples but y has 99"},
		{"label range", tensor.New(400, 8), big, "y: label 12 at index 345 is out of range for 10 classes"},
		{"negative label", x, neg, "label -1 at index 0 is out of range for 10 classes"},
		{"fractional label", x, frac, "label 1.5 at index 3 is not an integer"},
		{"label shape", x, tensor.New(100, 2), "labels must have shape (N,) or (N, 1)"},
		{"nil", nil, y, "must not be nil"},
	} {
		_, err := m.Fit(ctx, c.x, c.y, silent)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Fit: got %v, want %q", c.name, err, c.want)
		}
		_, _, err = m.Evaluate(ctx, c.x, c.y, EvaluateOptions{Verbose: VerboseSilent})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Evaluate: got %v, want %q", c.name, err, c.want)
		}
	}
	o := silent
	o.ValidationX = x
	if _, err := m.Fit(ctx, x, y, o); err == nil || !strings.Contains(err.Error(), "validation") {
		t.Errorf("validation x without y: %v", err)
	}
	o.BatchSize = -1
	o.ValidationX = nil
	if _, err := m.Fit(ctx, x, y, o); err == nil {
		t.Errorf("negative batch size accepted")
	}
	if _, err := m.Predict(ctx, tensor.New(3, 9), 0); err == nil || !strings.Contains(err.Error(), "want (N, 8)") {
		t.Errorf("Predict shape: %v", err)
	}
	// Several inputs: Fit refuses, Forward works.
	a, b := Input(8), Input(8)
	two := must(t)(NewModel([]*Node{a, b}, []*Node{Call(NewAdd(), a, b)}))
	if err := two.Compile(CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := two.Fit(ctx, x, x, silent); err == nil || !strings.Contains(err.Error(), "one input and one output") {
		t.Errorf("two-input Fit: %v", err)
	}
	if _, err := two.Predict(ctx, x, 0); err == nil {
		t.Errorf("two-input Predict accepted")
	}
}

func TestLossGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	labels := &tensor.Tensor{Shape: tensor.Shape{5, 1}, Data: []float32{0, 3, 2, 1, 3}}
	logits := randTensor(r, 5, 4)
	probs := tensor.New(5, 4)
	for i := range probs.Data {
		probs.Data[i] = 0.1 + float32(r.Float64())
	}
	for _, c := range []struct {
		loss Loss
		pred *tensor.Tensor
		y    *tensor.Tensor
	}{
		{SparseCategoricalCrossentropy{FromLogits: true}, logits, labels},
		{SparseCategoricalCrossentropy{}, probs, labels},
		{MeanSquaredError{}, logits, randTensor(r, 5, 4)},
	} {
		grad := tensor.New(c.pred.Shape...)
		c.loss.Compute(c.pred, c.y, grad)
		scratch := tensor.New(c.pred.Shape...)
		for j := range c.pred.Data {
			orig := c.pred.Data[j]
			c.pred.Data[j] = orig + 1e-3
			lp := c.loss.Compute(c.pred, c.y, scratch)
			c.pred.Data[j] = orig - 1e-3
			lm := c.loss.Compute(c.pred, c.y, scratch)
			c.pred.Data[j] = orig
			num := (lp - lm) / 2e-3
			if math.Abs(num-float64(grad.Data[j])) > 1e-3 {
				t.Errorf("%s[%d]: analytic %v, numeric %v", c.loss.Name(), j, grad.Data[j], num)
			}
		}
	}
	// Known values: uniform logits give log(C); a perfect probability is
	// clipped to -log(1-1e-7).
	grad := tensor.New(2, 4)
	if l := (SparseCategoricalCrossentropy{FromLogits: true}).Compute(tensor.New(2, 4), &tensor.Tensor{Shape: tensor.Shape{2}, Data: []float32{1, 2}}, grad); math.Abs(l-math.Log(4)) > 1e-12 {
		t.Errorf("uniform logits loss %v, want log 4", l)
	}
	onehot := &tensor.Tensor{Shape: tensor.Shape{1, 3}, Data: []float32{0, 1, 0}}
	if l := (SparseCategoricalCrossentropy{}).Compute(onehot, &tensor.Tensor{Shape: tensor.Shape{1}, Data: []float32{1}}, tensor.New(1, 3)); math.Abs(l+math.Log(1-1e-7)) > 1e-12 {
		t.Errorf("perfect probability loss %v", l)
	}
	if l := (MeanSquaredError{}).Compute(&tensor.Tensor{Shape: tensor.Shape{2}, Data: []float32{1, 3}}, &tensor.Tensor{Shape: tensor.Shape{2}, Data: []float32{0, 0}}, tensor.New(2)); l != 5 {
		t.Errorf("MSE %v, want 5", l)
	}
	if a := Accuracy(&tensor.Tensor{Shape: tensor.Shape{2, 2}, Data: []float32{1, 2, 5, 5}}, &tensor.Tensor{Shape: tensor.Shape{2}, Data: []float32{1, 1}}); a != 0.5 {
		t.Errorf("Accuracy %v, want 0.5 (ties go to the first index)", a)
	}
}

func TestStepCounter(t *testing.T) {
	s := &testScale{}
	m := must(t)(NewSequential(tensor.Shape{2}, s))
	if err := m.Compile(CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{0.01}}); err != nil {
		t.Fatal(err)
	}
	x := tensor.New(30, 2)
	steps := []int{}
	o := FitOptions{BatchSize: 8, Epochs: 2, Verbose: VerboseSilent, OnBatchEnd: func(int, float64) { steps = append(steps, s.lastStep) }}
	for i := 0; i < 2; i++ {
		if _, err := m.Fit(context.Background(), x, x, o); err != nil {
			t.Fatal(err)
		}
	}
	// 30 samples in batches of 8: 4 steps per epoch (the last of 6).
	if len(steps) != 16 || steps[0] != 0 || steps[15] != 15 || m.Step() != 16 {
		t.Errorf("steps %v, model step %d", steps, m.Step())
	}
	if _, err := m.Predict(context.Background(), x, 7); err != nil || s.lastStep != 16 {
		t.Errorf("Predict context step %d, want 16 (err %v)", s.lastStep, err)
	}
}

func TestPredict(t *testing.T) {
	m := newCNN(t)
	r := rand.New(rand.NewPCG(5, 5))
	x := randTensor(r, 37, 8, 8, 1)
	p, err := m.Predict(context.Background(), x, 10)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := m.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Shape.Equal(tensor.Shape{37, 3}) {
		t.Fatalf("Predict shape %v", p.Shape)
	}
	for i, v := range outs[0].Data {
		if math.Abs(float64(v-p.Data[i])) > 1e-5 {
			t.Fatalf("Predict[%d] = %v, Forward %v", i, p.Data[i], v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Predict(ctx, x, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Predict: %v", err)
	}
}

func TestFitNoAllocPerStep(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{4}, &testScale{}, &testScale{}))
	if err := m.Compile(CompileOptions{Loss: MeanSquaredError{}, Optimizer: testSGD{0.001}}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	x, y := randTensor(r, 160, 4), randTensor(r, 160, 4)
	allocs := func(bs int) float64 {
		return testing.AllocsPerRun(5, func() {
			if _, err := m.Fit(context.Background(), x, y, FitOptions{BatchSize: bs, Verbose: VerboseSilent}); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(16), allocs(4) // 10 and 40 steps
	t.Logf("allocations per Fit call: %v with 10 steps, %v with 40", few, many)
	if many-few >= 30 {
		t.Errorf("Fit allocates per step: %v allocations for 10 steps, %v for 40", few, many)
	}
}

func TestFitProgressOutput(t *testing.T) {
	x, y := blobs(1, 100, 3, 8)
	m := newMLP(t)
	var b bytes.Buffer
	o := FitOptions{BatchSize: 32, Epochs: 2, Progress: &b, ValidationX: x, ValidationY: y}
	if _, err := m.Fit(context.Background(), x, y, o); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^Epoch 1/2
 4/4 \[==============================\] - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}
Epoch 2/2
 4/4 \[=+\] - .*
$`)
	if !want.MatchString(b.String()) {
		t.Errorf("progress output:\n%s", b.String())
	}
	b.Reset()
	o.Verbose = VerboseEpoch
	if _, err := m.Fit(context.Background(), x, y, o); err != nil {
		t.Fatal(err)
	}
	want = regexp.MustCompile(`^Epoch 1/2 - \d+s \d+(us|ms|s)/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}
Epoch 2/2 - .*
$`)
	if !want.MatchString(b.String()) {
		t.Errorf("per-epoch output:\n%s", b.String())
	}
	b.Reset()
	o.Verbose = VerboseSilent
	if _, err := m.Fit(context.Background(), x, y, o); err != nil || b.Len() != 0 {
		t.Errorf("silent Fit printed %q (%v)", b.String(), err)
	}
	if _, _, err := m.Evaluate(context.Background(), x, y, EvaluateOptions{Progress: &b, BatchSize: 50}); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ 2/2 \[=+\] - \d+s .*/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n$`).MatchString(b.String()) {
		t.Errorf("Evaluate output %q", b.String())
	}
}

func TestProgressBarLive(t *testing.T) {
	var b bytes.Buffer
	p := NewProgressBar(&b, 469)
	p.live = true
	t0 := time.Unix(1000, 0)
	now := t0
	p.start = t0
	p.now = func() time.Time { return now }
	now = t0.Add(12 * time.Second)
	p.Update(235, KV{"loss", 0.1234}, KV{"accuracy", 0.9612})
	want := "\r 235/469 [==============>...............] - ETA: 12s - loss: 0.1234 - accuracy: 0.9612"
	if b.String() != want {
		t.Errorf("live line\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	now = now.Add(50 * time.Millisecond)
	p.Update(236, KV{"loss", 0.1})
	if b.Len() != 0 {
		t.Errorf("update within 100 ms redrew: %q", b.String())
	}
	now = t0.Add(25 * time.Second)
	p.Update(469, KV{"loss", 0.0712}, KV{"accuracy", 0.9788}, KV{"val_loss", 0.0412}, KV{"val_accuracy", 1e-4})
	b.Reset()
	p.Done()
	want = "\r 469/469 [==============================] - 25s 53ms/step - loss: 0.0712 - accuracy: 0.9788 - val_loss: 0.0412 - val_accuracy: 1.0000e-04\n"
	if b.String() != want {
		t.Errorf("final line\n got %q\nwant %q", b.String(), want)
	}
	for sec, want := range map[float64]string{5: "5s", 65: "1:05", 3725: "1:02:05"} {
		if got := formatETA(sec); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", sec, got, want)
		}
	}
	if NewProgressBar(&b, 3).live {
		t.Errorf("a bytes.Buffer is not a terminal")
	}
}
