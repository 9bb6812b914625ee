package nn

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// twoHeadData returns blobs (N, 8) with their class labels (N) and a
// regression target (N, 1): half the sum of the first two features.
func twoHeadData(seed uint64, n int) (x, cls, reg *tensor.Tensor) {
	x, cls = blobs(seed, n, 3, 8)
	reg = tensor.New(n, 1)
	for i := range n {
		reg.Data[i] = 0.5 * (x.Data[i*8] + x.Data[i*8+1])
	}
	return x, cls, reg
}

// rows returns a copy of samples [lo, hi) of t.
func rows(t *tensor.Tensor, lo, hi int) *tensor.Tensor {
	var dst *tensor.Tensor
	var shape []int
	return sampleRange(&dst, &shape, t, lo, hi)
}

// twoHeadSplit returns twoHeadData of n+v samples split into n training
// and v validation samples (the same class centers).
func twoHeadSplit(seed uint64, n, v int) (x, cls, reg, vx, vcls, vreg *tensor.Tensor) {
	ax, acls, areg := twoHeadData(seed, n+v)
	return rows(ax, 0, n), rows(acls, 0, n), rows(areg, 0, n), rows(ax, n, n+v), rows(acls, n, n+v), rows(areg, n, n+v)
}

// newTwoHead returns a model with a shared trunk (Dense 16, ReLU) and two
// outputs: "cls" (3 class scores) and "reg" (1 value), compiled with
// cross-entropy and accuracy on cls, MSE on reg and the given loss weights.
func newTwoHead(t *testing.T, weights map[string]float64) (m *Model, cls, reg *Dense) {
	t.Helper()
	in := InputNamed("features", 8)
	h := Call(NewReLU(), Call(NewDense(16), in))
	cls, reg = NewDense(3), NewDense(1)
	cls.SetName("cls")
	reg.SetName("reg")
	m = must(t)(NewModel([]*Node{in}, []*Node{Call(cls, h), Call(reg, h)}))
	m.InitWeights(4)
	err := m.Compile(CompileOptions{
		Losses:        map[string]Loss{"cls": SparseCategoricalCrossentropy{FromLogits: true}, "reg": MeanSquaredError{}},
		LossWeights:   weights,
		OutputMetrics: map[string][]string{"cls": {"accuracy"}},
		Optimizer:     testSGD{0.02},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, cls, reg
}

func paramBits(ps []*Param) []uint32 {
	var b []uint32
	for _, p := range ps {
		for _, v := range p.Value.Data {
			b = append(b, math.Float32bits(v))
		}
	}
	return b
}

func TestFitMultiTwoOutputs(t *testing.T) {
	ctx := context.Background()
	x, cls, reg, vx, vcls, vreg := twoHeadSplit(1, 120, 40)
	m, _, _ := newTwoHead(t, map[string]float64{"reg": 0.5})
	o := FitOptions{BatchSize: 16, Epochs: 6, Seed: 1, Verbose: VerboseSilent,
		ValidationInputs: []*tensor.Tensor{vx}, ValidationTargets: []*tensor.Tensor{vcls, vreg}}
	h, err := m.FitMulti(ctx, []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "cls_loss", "reg_loss", "cls_accuracy", "val_loss", "val_cls_loss", "val_reg_loss", "val_cls_accuracy"} {
		if len(h.Metrics[k]) != 6 {
			t.Fatalf("History.Metrics[%q] has %d entries, want 6 (keys %v)", k, len(h.Metrics[k]), h.Metrics)
		}
	}
	if len(h.Metrics) != 8 || len(h.Accuracy) != 0 || len(h.Loss) != 6 || len(h.ValLoss) != 6 {
		t.Errorf("History: %d metrics, %d accuracies, %d losses, %d validation losses", len(h.Metrics), len(h.Accuracy), len(h.Loss), len(h.ValLoss))
	}
	for _, k := range []string{"loss", "cls_loss", "reg_loss", "val_loss"} {
		if v := h.Metrics[k]; !(v[5] < v[0]*0.7) {
			t.Errorf("%s did not fall: %v", k, v)
		}
	}
	if a := h.Metrics["val_cls_accuracy"][5]; a < 0.9 {
		t.Errorf("validation accuracy %v", a)
	}
	// The total is the weighted sum of the outputs' losses.
	for e := range h.Loss {
		want := h.Metrics["cls_loss"][e] + 0.5*h.Metrics["reg_loss"][e]
		if math.Abs(h.Loss[e]-want) > 1e-9*want {
			t.Errorf("epoch %d: loss %v, want cls_loss + 0.5 reg_loss = %v", e, h.Loss[e], want)
		}
		if h.Metrics["loss"][e] != h.Loss[e] {
			t.Errorf("epoch %d: Metrics[loss] %v, Loss %v", e, h.Metrics["loss"][e], h.Loss[e])
		}
	}

	// Evaluate and Predict per output: the figures from the predictions.
	ev, err := m.EvaluateMulti(ctx, []*tensor.Tensor{vx}, []*tensor.Tensor{vcls, vreg}, EvaluateOptions{BatchSize: 16, Verbose: VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	preds, err := m.PredictMulti(ctx, []*tensor.Tensor{vx}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 2 || !preds[0].Shape.Equal(tensor.Shape{40, 3}) || !preds[1].Shape.Equal(tensor.Shape{40, 1}) {
		t.Fatalf("PredictMulti shapes %v", preds)
	}
	grad := tensor.New(40, 3)
	clsLoss := SparseCategoricalCrossentropy{FromLogits: true}.Compute(preds[0], vcls, grad)
	regLoss := MeanSquaredError{}.Compute(preds[1], vreg, tensor.New(40, 1))
	for k, want := range map[string]float64{"cls_loss": clsLoss, "reg_loss": regLoss, "loss": clsLoss + 0.5*regLoss, "cls_accuracy": Accuracy(preds[0], vcls)} {
		if got, ok := ev[k]; !ok || math.Abs(got-want) > 1e-5*math.Max(1, want) {
			t.Errorf("EvaluateMulti %s = %v, want %v", k, got, want)
		}
	}
	if len(ev) != 4 {
		t.Errorf("EvaluateMulti returned %v", ev)
	}
	if ev["val_loss"] != 0 || h.Metrics["val_loss"][5] != ev["loss"] {
		t.Errorf("the last validation loss %v differs from EvaluateMulti's %v", h.Metrics["val_loss"][5], ev["loss"])
	}
}

func TestFitMultiTwoInputs(t *testing.T) {
	x, y := blobs(3, 120, 3, 8)
	// The features split over two inputs of 5 and 3 values.
	xa, xb := tensor.New(120, 5), tensor.New(120, 3)
	for i := range 120 {
		copy(xa.Data[i*5:(i+1)*5], x.Data[i*8:i*8+5])
		copy(xb.Data[i*3:(i+1)*3], x.Data[i*8+5:(i+1)*8])
	}
	a, b := InputNamed("a", 5), InputNamed("b", 3)
	h := Call(NewConcatenate(), Call(NewDense(8), a), Call(NewDense(8), b))
	m := must(t)(NewModel([]*Node{a, b}, []*Node{Call(NewDense(3), Call(NewReLU(), h))}))
	if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.05}, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	hist, err := m.FitMulti(context.Background(), []*tensor.Tensor{xa, xb}, []*tensor.Tensor{y}, FitOptions{BatchSize: 16, Epochs: 5, Seed: 2, Verbose: VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	// One output: Keras's names, and History's single-output fields.
	if l := hist.Loss; !(l[4] < l[0]*0.5) || len(hist.Accuracy) != 5 || hist.Accuracy[4] < 0.9 {
		t.Errorf("loss %v, accuracy %v", l, hist.Accuracy)
	}
	if len(hist.Metrics) != 2 || len(hist.Metrics["accuracy"]) != 5 {
		t.Errorf("History.Metrics %v", hist.Metrics)
	}
	ev, err := m.EvaluateMulti(context.Background(), []*tensor.Tensor{xa, xb}, []*tensor.Tensor{y}, EvaluateOptions{Verbose: VerboseSilent})
	if err != nil || len(ev) != 2 || ev["accuracy"] < 0.9 {
		t.Errorf("EvaluateMulti: %v, %v", ev, err)
	}
	// Predict of a two-input model: the same as Forward on the whole set.
	p, err := m.PredictMulti(context.Background(), []*tensor.Tensor{xa, xb}, 32)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := m.Forward(nil, xa, xb)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(paramBits([]*Param{{Value: p[0]}}), paramBits([]*Param{{Value: outs[0]}})) {
		t.Errorf("PredictMulti differs from Forward")
	}
}

// TestFitMultiZeroWeight: an output of loss weight 0 sends no gradient, so
// its head keeps its initial weights bit for bit while the other head and
// the trunk train; with weight 1 the same head changes.
func TestFitMultiZeroWeight(t *testing.T) {
	x, cls, reg := twoHeadData(1, 80)
	for _, zero := range []string{"reg", "cls"} {
		for _, w := range []float64{0, 1} {
			m, dc, dr := newTwoHead(t, map[string]float64{zero: w})
			head, other := dr.Params(), dc.Params()
			if zero == "cls" {
				head, other = other, head
			}
			before, otherBefore := paramBits(head), paramBits(other)
			if _, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, FitOptions{BatchSize: 16, Epochs: 2, Verbose: VerboseSilent}); err != nil {
				t.Fatal(err)
			}
			if same := sameBits(paramBits(head), before); same != (w == 0) {
				t.Errorf("%s of weight %v: head weights unchanged = %v", zero, w, same)
			}
			if sameBits(paramBits(other), otherBefore) {
				t.Errorf("%s of weight %v: the other head did not train", zero, w)
			}
		}
	}
}

// TestFitMultiMatchesFit: a one-input, one-output model trains, evaluates
// and predicts through the multi API bit for bit as through Fit, Evaluate
// and Predict (validation through either field), and a loss weight of 1 by
// name changes nothing.
func TestFitMultiMatchesFit(t *testing.T) {
	ctx := context.Background()
	ax, ay := blobs(1, 130, 3, 8)
	x, y, vx, vy := rows(ax, 0, 100), rows(ay, 0, 100), rows(ax, 100, 130), rows(ay, 100, 130)
	type result struct {
		bits []uint32
		h    *History
		l, a float64
		p    []uint32
	}
	run := func(multi bool, valFields bool, weights map[string]float64) result {
		m := newMLP(t)
		if weights != nil {
			if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.05}, Metrics: []string{"accuracy"}, LossWeights: weights}); err != nil {
				t.Fatal(err)
			}
		}
		o := FitOptions{BatchSize: 16, Epochs: 3, Seed: 5, Verbose: VerboseSilent, ValidationX: vx, ValidationY: vy}
		var r result
		var err error
		if multi {
			if !valFields {
				o.ValidationX, o.ValidationY = nil, nil
				o.ValidationInputs, o.ValidationTargets = []*tensor.Tensor{vx}, []*tensor.Tensor{vy}
			}
			r.h, err = m.FitMulti(ctx, []*tensor.Tensor{x}, []*tensor.Tensor{y}, o)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := m.EvaluateMulti(ctx, []*tensor.Tensor{vx}, []*tensor.Tensor{vy}, EvaluateOptions{BatchSize: 8, Verbose: VerboseSilent})
			if err != nil {
				t.Fatal(err)
			}
			r.l, r.a = ev["loss"], ev["accuracy"]
			ps, err := m.PredictMulti(ctx, []*tensor.Tensor{vx}, 7)
			if err != nil {
				t.Fatal(err)
			}
			r.p = paramBits([]*Param{{Value: ps[0]}})
		} else {
			if r.h, err = m.Fit(ctx, x, y, o); err != nil {
				t.Fatal(err)
			}
			if r.l, r.a, err = m.Evaluate(ctx, vx, vy, EvaluateOptions{BatchSize: 8, Verbose: VerboseSilent}); err != nil {
				t.Fatal(err)
			}
			p, err := m.Predict(ctx, vx, 7)
			if err != nil {
				t.Fatal(err)
			}
			r.p = paramBits([]*Param{{Value: p}})
		}
		r.bits = weightBits(m)
		return r
	}
	ref := run(false, true, nil)
	for _, c := range []struct {
		name      string
		valFields bool
		weights   map[string]float64
	}{{"ValidationX", true, nil}, {"ValidationInputs", false, nil}, {"weight 1", false, map[string]float64{"dense_1": 1}}} {
		got := run(true, c.valFields, c.weights)
		if !sameBits(got.bits, ref.bits) || !sameBits(got.p, ref.p) || got.l != ref.l || got.a != ref.a {
			t.Errorf("%s: weights, predictions or evaluation differ from Fit's", c.name)
		}
		for e := range ref.h.Loss {
			if got.h.Loss[e] != ref.h.Loss[e] || got.h.Accuracy[e] != ref.h.Accuracy[e] || got.h.ValLoss[e] != ref.h.ValLoss[e] || got.h.ValAccuracy[e] != ref.h.ValAccuracy[e] {
				t.Errorf("%s: epoch %d: history differs", c.name, e)
			}
		}
		if len(got.h.Metrics) != 4 || len(ref.h.Metrics) != 4 || got.h.Metrics["val_accuracy"][2] != ref.h.ValAccuracy[2] {
			t.Errorf("%s: History.Metrics %v, Fit's %v", c.name, got.h.Metrics, ref.h.Metrics)
		}
	}
	// A weight other than 1 does change the single-output run.
	if got := run(true, true, map[string]float64{"0": 0.5}); sameBits(got.bits, ref.bits) {
		t.Errorf("loss weight 0.5 trained the same weights as 1")
	}
}

func TestFitMultiThreadIndependent(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	x, cls, reg := twoHeadData(1, 90)
	var bits [2][]uint32
	var loss [2]float64
	for i, th := range []int{1, 2} {
		kernels.SetThreads(th)
		m, _, _ := newTwoHead(t, map[string]float64{"cls": 0.7, "reg": 0.3})
		h, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, FitOptions{BatchSize: 32, Epochs: 2, Seed: 3, Verbose: VerboseSilent})
		if err != nil {
			t.Fatal(err)
		}
		bits[i], loss[i] = weightBits(m), h.Loss[1]
	}
	if !sameBits(bits[0], bits[1]) || loss[0] != loss[1] {
		t.Errorf("weights trained with 1 and 2 threads differ")
	}
}

// TestFitMultiCallbacks: callbacks monitor an output's metric, see every
// logged name in TrainBegin, and reject an unknown one before training;
// CSVLogger writes the per-output columns.
func TestFitMultiCallbacks(t *testing.T) {
	x, cls, reg, vx, vcls, vreg := twoHeadSplit(1, 80, 20)
	dir := t.TempDir()
	csv := filepath.Join(dir, "log.csv")
	m, _, _ := newTwoHead(t, nil)
	es := &EarlyStopping{Monitor: "val_reg_loss", Patience: 1}
	o := FitOptions{BatchSize: 16, Epochs: 3, Verbose: VerboseSilent,
		ValidationInputs: []*tensor.Tensor{vx}, ValidationTargets: []*tensor.Tensor{vcls, vreg},
		Callbacks: []Callback{es, &CSVLogger{Path: csv}}}
	if _, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(string(b), "\n", 2)[0]
	if header != "epoch,cls_accuracy,cls_loss,loss,reg_loss,val_cls_accuracy,val_cls_loss,val_loss,val_reg_loss" {
		t.Errorf("CSV header %q", header)
	}
	o.Callbacks = []Callback{&EarlyStopping{Monitor: "val_box_loss"}}
	before := weightBits(m)
	_, err = m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, o)
	if err == nil || !strings.Contains(err.Error(), `"val_box_loss"`) || !strings.Contains(err.Error(), "val_reg_loss") || strings.Contains(err.Error(), "\n") {
		t.Errorf("unknown monitored metric: %v", err)
	}
	if !sameBits(before, weightBits(m)) {
		t.Errorf("a rejected callback let Fit train")
	}
}

// TestFitMultiProgress: the epoch line shows every output's loss and
// metric under Keras's names.
func TestFitMultiProgress(t *testing.T) {
	x, cls, reg := twoHeadData(1, 40)
	m, _, _ := newTwoHead(t, nil)
	var buf bytes.Buffer
	if _, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, FitOptions{BatchSize: 16, Verbose: VerboseEpoch, Progress: &buf}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	for _, k := range []string{" loss: ", " cls_loss: ", " reg_loss: ", " cls_accuracy: "} {
		if !strings.Contains(line, k) {
			t.Errorf("progress %q lacks %q", line, k)
		}
	}
	buf.Reset()
	if _, err := m.EvaluateMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, EvaluateOptions{Progress: &buf}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "reg_loss: ") {
		t.Errorf("Evaluate progress %q", buf.String())
	}
}

// TestFitMultiSampleWeight: SampleWeight weights every output's loss; a
// weight of 0 on every sample trains nothing.
func TestFitMultiSampleWeight(t *testing.T) {
	x, cls, reg := twoHeadData(1, 40)
	m, _, _ := newTwoHead(t, nil)
	before := weightBits(m)
	o := FitOptions{BatchSize: 16, Verbose: VerboseSilent, SampleWeight: tensor.New(40)}
	h, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(before, weightBits(m)) || h.Loss[0] != 0 || h.Metrics["reg_loss"][0] != 0 {
		t.Errorf("zero sample weights: weights changed or loss %v", h.Metrics)
	}
	for i := range o.SampleWeight.Data {
		o.SampleWeight.Data[i] = 1
	}
	if _, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}, o); err != nil {
		t.Fatal(err)
	}
	if sameBits(before, weightBits(m)) {
		t.Errorf("unit sample weights trained nothing")
	}
}

func TestFitMultiBadInput(t *testing.T) {
	ctx := context.Background()
	x, cls, reg := twoHeadData(1, 20)
	m, _, _ := newTwoHead(t, nil)
	xs, ys := []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}
	r := rand.New(rand.NewPCG(1, 1))
	silentFit := FitOptions{Verbose: VerboseSilent}
	fit := func(o FitOptions, x, y []*tensor.Tensor) error {
		_, err := m.FitMulti(ctx, x, y, o)
		return err
	}
	compile := func(o CompileOptions) error {
		o.Optimizer = testSGD{0.1}
		mm, _, _ := newTwoHead(t, nil)
		return mm.Compile(o)
	}
	ce := SparseCategoricalCrossentropy{FromLogits: true}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"one target", fit(silentFit, xs, ys[:1]), "y holds 1 tensors, the model has 2 outputs (cls, reg)"},
		{"two inputs", fit(silentFit, []*tensor.Tensor{x, x}, ys), "x holds 2 tensors, the model has 1 inputs (features)"},
		{"short target", fit(silentFit, xs, []*tensor.Tensor{cls, randTensor(r, 19, 1)}), "x has 20 samples but y[1] has 19"},
		{"nil target", fit(silentFit, xs, []*tensor.Tensor{cls, nil}), "x and y[1] must not be nil"},
		{"bad labels", fit(silentFit, xs, []*tensor.Tensor{reg, reg}), "y[0]: "},
		{"bad validation", fit(FitOptions{ValidationInputs: xs, ValidationTargets: ys[1:]}, xs, ys), "validation y holds 1 tensors"},
		{"both validations", fit(FitOptions{ValidationX: x, ValidationY: cls, ValidationInputs: xs}, xs, ys), "not both"},
		{"checkpoint", fit(FitOptions{Checkpoint: &CheckpointOptions{Dir: t.TempDir()}}, xs, ys), "need a model with one output"},
		{"class weight", fit(FitOptions{ClassWeight: map[int]float64{0: 2}}, xs, ys), "ClassWeight needs a model with one output"},
		{"unknown loss name", compile(CompileOptions{Loss: ce, Losses: map[string]Loss{"box": MeanSquaredError{}}}), `Losses names output "box"; the model's outputs are cls, reg (or their indices 0 to 1)`},
		{"index out of range", compile(CompileOptions{Loss: ce, LossWeights: map[string]float64{"2": 1}}), `LossWeights names output "2"`},
		{"negative weight", compile(CompileOptions{Loss: ce, LossWeights: map[string]float64{"reg": -1}}), `LossWeights["reg"] is -1`},
		{"NaN weight", compile(CompileOptions{Loss: ce, LossWeights: map[string]float64{"1": math.NaN()}}), `LossWeights["1"] is NaN`},
		{"missing loss", compile(CompileOptions{Losses: map[string]Loss{"cls": ce}}), `no loss for output "reg"`},
		{"nil loss", compile(CompileOptions{Loss: ce, Losses: map[string]Loss{"cls": nil}}), `Losses["cls"] is nil`},
		{"accuracy on MSE", compile(CompileOptions{Loss: ce, Losses: map[string]Loss{"reg": MeanSquaredError{}}, Metrics: []string{"accuracy"}}), `metric "accuracy" of output "reg" needs integer class labels`},
		{"unknown metric", compile(CompileOptions{Loss: ce, OutputMetrics: map[string][]string{"reg": {"auc"}}}), `unknown metric "auc"`},
		{"unknown metric output", compile(CompileOptions{Loss: ce, OutputMetrics: map[string][]string{"box": {"accuracy"}}}), `OutputMetrics names output "box"`},
	}
	_, err := m.EvaluateMulti(ctx, xs, ys[:1], EvaluateOptions{Verbose: VerboseSilent})
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"evaluate", err, "nn: EvaluateMulti: y holds 1 tensors"})
	_, err = m.PredictMulti(ctx, []*tensor.Tensor{randTensor(r, 3, 7)}, 0)
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"predict shape", err, "nn: PredictMulti: input 0: got shape (N, 7), want (N, 8)"})
	_, err = m.Predict(ctx, x, 0)
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"single predict", err, "use PredictMulti"})
	_, err = m.Fit(ctx, x, cls, silentFit)
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"single fit", err, "one input and one output; \"model\" has 1 and 2 (use FitMulti)"})
	weighted := newMLP(t)
	if err := weighted.Compile(CompileOptions{Loss: ce, LossWeights: map[string]float64{"0": 2}, Optimizer: testSGD{0.1}}); err != nil {
		t.Fatal(err)
	}
	_, err = weighted.Fit(ctx, x, cls, FitOptions{DataParallel: refusedParallel{}})
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"data-parallel weights", err, "DataParallel does not support loss weights"})
	_, err = m.FitMulti(ctx, xs, ys, FitOptions{DataParallel: refusedParallel{}})
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"data-parallel outputs", err, "DataParallel needs a model with one input and one output"})
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"batches", fit(FitOptions{Batches: refusedSource{}}, nil, nil), "Batches) needs a model with one input and one output"})
	cases = append(cases, struct {
		name string
		err  error
		want string
	}{"not compiled", func() error {
		mm := must(t)(NewSequential(tensor.Shape{8}, NewDense(2)))
		_, err := mm.FitMulti(ctx, xs, ys, silentFit)
		return err
	}(), "not compiled"})
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || strings.Contains(c.err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line containing %q", c.name, c.err, c.want)
		}
	}
}

// refusedSource is a batch source FitMulti must reject before using.
type refusedSource struct{}

func (refusedSource) Len() int { return 8 }
func (refusedSource) StartEpoch(context.Context, int, []int, int, int) error {
	return errors.New("StartEpoch called")
}
func (refusedSource) Next() (*tensor.Tensor, *tensor.Tensor, error) {
	return nil, nil, errors.New("Next called")
}
func (refusedSource) Stop() {}

// refusedParallel is a data-parallel hook FitMulti must reject before using.
type refusedParallel struct{}

func (refusedParallel) Blocks(batch []int) (int, [][]int) { panic("Blocks called") }
func (refusedParallel) Accumulate(int, []*Param, float32, []float64) error {
	return errors.New("Accumulate called")
}
func (refusedParallel) Reduce([]*Param, []float64) error { return errors.New("Reduce called") }
