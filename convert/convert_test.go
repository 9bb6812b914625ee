package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// snapshot returns the bytes of every parameter of m (quantizer state
// included) and its inference-mode output on x.
func snapshot(t *testing.T, m *nn.Model, x *tensor.Tensor) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range m.Params() {
		b.WriteString(p.Name)
		for _, v := range p.Value.Data {
			_ = binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
		}
	}
	ys, err := m.Forward(&nn.Context{}, x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ys[0].Data {
		_ = binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
	}
	return b.Bytes()
}

// trainedMerge returns mergeModel quantized (8-bit) and trained briefly:
// float then QAT on 128 MNIST images, BN frozen after two steps.
func trainedMerge(t *testing.T) *nn.Model {
	t.Helper()
	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	train = train.Take(128)
	fit := func(m *nn.Model, lr float64) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
	}
	fm := mergeModel(t)
	fit(fm, 2e-3)
	qat, err := quantize.Model(fm, quantize.WithFreezeBNAfter(2))
	if err != nil {
		t.Fatal(err)
	}
	fit(qat, 2e-4)
	return qat
}

// TestConvertLeavesModelUnchanged converts a trained QAT model (with a
// Concatenate whose producers share its range, an Add and pools) and checks
// that its parameters and its inference output are the same bytes after.
func TestConvertLeavesModelUnchanged(t *testing.T) {
	qat := trainedMerge(t)
	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	x := train.X.Batch(0, 16)
	before := snapshot(t, qat, x)
	for _, opts := range [][]Option{nil, {FullInteger()}} {
		if _, err := Convert(qat, opts...); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, snapshot(t, qat, x)) {
			t.Fatal("Convert changed the QAT model's parameters or its inference output")
		}
	}
}

// TestLoadIsExact saves a trained QAT model and loads it back with
// nn.Load alone (no quantize call): the loaded model is linked, so its
// inference agrees with its integer model code for code, as the original
// does.
func TestLoadIsExact(t *testing.T) {
	qat := trainedMerge(t)
	p := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(p, qat); err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := quantize.Link(m); n == 0 {
		t.Fatal("no layer of the loaded model is linked")
	}
	im, err := Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	x := test.X.Batch(0, 200)
	a := compareOutputs(t, m, im, x, 50)
	if a.same != a.vals || a.top1Same != a.n {
		t.Errorf("loaded model: %d of %d output codes and %d of %d top-1 identical, want all", a.same, a.vals, a.top1Same, a.n)
	}
	if !bytes.Equal(snapshot(t, qat, x), snapshot(t, m, x)) {
		t.Error("the loaded model's inference differs from the saved model's")
	}
}

// TestConvertErrorsNameTheLayer checks that a layer without an integer form
// is an error that names it and lists what converts.
func TestConvertErrorsNameTheLayer(t *testing.T) {
	in := nn.Input(4)
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{nn.Call(nn.NewDense(3), in)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Convert(m)
	if err == nil || !strings.Contains(err.Error(), "Dense") || !strings.Contains(err.Error(), "MaxPooling2D") {
		t.Fatalf("Convert of a float model: %v", err)
	}
}
