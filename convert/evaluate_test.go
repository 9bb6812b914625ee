package convert_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// savedBytes returns what nn.Save writes for m.
func savedBytes(t *testing.T, m *nn.Model) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.Save(p, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// top1 returns the share of rows of m's scores on x whose first largest
// value is at the label, by nn's accuracy metric (Evaluate).
func top1(t *testing.T, m *nn.Model, x, y *tensor.Tensor) float64 {
	t.Helper()
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	_, acc, err := m.Evaluate(context.Background(), x, y, nn.EvaluateOptions{BatchSize: 16, Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// noisyLabels returns labels that are y's with every third one flipped, so
// that no model is right on all of them.
func noisyLabels(y *tensor.Tensor) *tensor.Tensor {
	z := tensor.New(y.Shape...)
	for i, v := range y.Data {
		z.Data[i] = v
		if i%3 == 0 {
			z.Data[i] = 1 - v
		}
	}
	return z
}

// Accuracy through the integer engine is the QAT model's own accuracy
// and lite.Accuracy's; a model that does not convert (a float model) is
// measured as it is; neither is changed.
func TestAccuracy(t *testing.T) {
	ctx := context.Background()
	x, y := brightHalf(256, 1)
	testX, testY := brightHalf(90, 3)
	testY = noisyLabels(testY)
	qat := qatModel(x, y, 1)
	before := savedBytes(t, qat)
	acc, err := convert.Accuracy(ctx, qat, testX, testY, 16)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(savedBytes(t, qat), before) {
		t.Error("Accuracy changed the QAT model")
	}
	im, err := convert.Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	want, err := lite.Accuracy(im, testX, testY, 7)
	if err != nil {
		t.Fatal(err)
	}
	if acc != want || acc != top1(t, qat, testX, testY) || acc == 1 {
		t.Errorf("Accuracy %v, lite.Accuracy %v, QAT model %v (with a third of the labels flipped)", acc, want, top1(t, qat, testX, testY))
	}

	fm, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := convert.Convert(fm); err == nil {
		t.Fatal("a float model converts; the fallback is not tested")
	}
	facc, err := convert.Accuracy(ctx, fm, testX, testY, 16)
	if err != nil {
		t.Fatal(err)
	}
	if want := top1(t, fm, testX, testY); facc != want {
		t.Errorf("float model: Accuracy %v, Evaluate %v", facc, want)
	}

	for _, c := range []struct {
		name  string
		m     *nn.Model
		x, y  *tensor.Tensor
		batch int
	}{
		{"nil model", nil, testX, testY, 16},
		{"batch 0", qat, testX, testY, 0},
		{"labels", qat, testX, y, 16},
		{"no samples", qat, nil, testY, 16},
	} {
		if _, err := convert.Accuracy(ctx, c.m, c.x, c.y, c.batch); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// Agreement measures both models and their top-1 agreement, which is
// total for a model and its conversion and far from it for the integer
// model of a model trained on opposite labels.
func TestAgreement(t *testing.T) {
	ctx := context.Background()
	x, y := brightHalf(256, 1)
	testX, testY := brightHalf(90, 3)
	testY = noisyLabels(testY)
	qat := qatModel(x, y, 1)
	im, err := convert.Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a, err := convert.Agreement(ctx, qat, im, testX, testY, convert.AgreementOptions{BatchSize: 16, Verbose: nn.VerboseEpoch, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	int8Acc, err := lite.Accuracy(im, testX, testY, 16)
	if err != nil {
		t.Fatal(err)
	}
	if a.Top1Agreement != 1 || a.Int8Accuracy != int8Acc || a.QATAccuracy != top1(t, qat, testX, testY) || a.QATAccuracy == 1 {
		t.Errorf("got %+v; want agreement 1, int8 accuracy %v, QAT accuracy %v", a, int8Acc, top1(t, qat, testX, testY))
	}
	if s := out.String(); !strings.HasPrefix(s, "int8 evaluation:\n") || strings.Count(s, "\n") != 2 || !strings.Contains(s, "same top-1 as QAT: 1.0000") {
		t.Errorf("VerboseEpoch output %q, want the title and the bar's final line", s)
	}
	out.Reset()
	if _, err := convert.Agreement(ctx, qat, im, testX, testY, convert.AgreementOptions{Verbose: nn.VerboseSilent, Progress: &out}); err != nil || out.Len() != 0 {
		t.Errorf("VerboseSilent: error %v, output %q", err, out.String())
	}

	flipped := tensor.New(y.Shape...)
	for i, v := range y.Data {
		flipped.Data[i] = 1 - v
	}
	other, err := convert.Convert(qatModel(x, flipped, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := convert.Agreement(ctx, qat, other, testX, testY, convert.AgreementOptions{Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	if b.Top1Agreement > 0.5 || b.QATAccuracy != a.QATAccuracy {
		t.Errorf("another model's integer model: %+v; want little agreement and the same QAT accuracy %v", b, a.QATAccuracy)
	}
	if _, err := convert.Agreement(ctx, qat, nil, testX, testY, convert.AgreementOptions{}); err == nil {
		t.Error("nil integer model: no error")
	}
}

// TestEvaluationStopsOnCancel: Accuracy (through the integer engine, and
// through the QAT model when it does not convert) and Agreement return the
// context's error once it is cancelled, without falling back to another
// path.
func TestEvaluationStopsOnCancel(t *testing.T) {
	x, y := brightHalf(64, 1)
	qat := qatModel(x, y, 1)
	im, err := convert.Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, m := range []*nn.Model{qat, fm} {
		if _, err := convert.Accuracy(ctx, m, x, y, 16); !errors.Is(err, context.Canceled) {
			t.Errorf("Accuracy of %s: %v, want context.Canceled", m.Name(), err)
		}
	}
	if _, err := convert.Agreement(ctx, qat, im, x, y, convert.AgreementOptions{BatchSize: 16, Verbose: nn.VerboseSilent}); !errors.Is(err, context.Canceled) {
		t.Errorf("Agreement: %v, want context.Canceled", err)
	}
}
