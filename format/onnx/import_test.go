package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// perturbBN gives every BatchNormalization non-trivial statistics so that
// a wrong mapping of gamma, beta, mean or variance shows.
func perturbBN(m *nn.Model, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	for _, l := range m.Layers() {
		if b, ok := l.(*nn.BatchNormalization); ok {
			for i := range b.Gamma.Value.Data {
				b.Gamma.Value.Data[i] = 0.5 + r.Float32()
				b.Beta.Value.Data[i] = r.Float32() - 0.5
				b.MovingMean.Value.Data[i] = 0.2 * (r.Float32() - 0.5)
				b.MovingVariance.Value.Data[i] = 0.05 + r.Float32()
			}
		}
	}
}

// roundTrip encodes mp, decodes it and imports it.
func roundTrip(t *testing.T, mp *onnxpb.ModelProto) *nn.Model {
	t.Helper()
	data, err := Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Import(back)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// maxDiff returns the largest |a-b| relative to max(1, |b|).
func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i]))/max(1, math.Abs(float64(b[i]))))
	}
	return d
}

// TestRoundTrip exports the built-in float models, imports them back and
// checks that the imported models predict the same values (1e-5) with the
// same layers and weights.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	x := images(16, 3)
	for _, name := range models.Names() {
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 4)
		if err != nil {
			t.Fatal(err)
		}
		perturbBN(m, 5)
		mp, err := ExportFloat(m)
		if err != nil {
			t.Fatal(err)
		}
		back := roundTrip(t, mp)
		if back.Name() != m.Name() {
			t.Errorf("%s: imported model is named %q", name, back.Name())
		}
		if got, want := len(back.Params()), len(m.Params()); got != want {
			t.Errorf("%s: %d params after import, want %d", name, got, want)
		}
		for _, l := range m.Layers() {
			bl := back.Layer(l.Name())
			if bl == nil || bl.Type() != l.Type() {
				t.Errorf("%s: layer %q (%s) is not in the imported model", name, l.Name(), l.Type())
			}
		}
		want, err := m.Predict(ctx, x, 8)
		if err != nil {
			t.Fatal(err)
		}
		got, err := back.Predict(ctx, x, 8)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Shape.Equal(want.Shape) {
			t.Fatalf("%s: output shape %v, want %v", name, got.Shape, want.Shape)
		}
		if d := maxDiff(got.Data, want.Data); d > 1e-5 {
			t.Errorf("%s: imported model differs by %g", name, d)
		}
	}
}

// TestImportErrors checks that an unsupported op is a one-line error
// naming the node and its op type.
func TestImportErrors(t *testing.T) {
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() == "Relu" {
			op := "LeakyRelu"
			n.OpType = &op
			break
		}
	}
	_, err = Import(mp)
	if err == nil || !strings.Contains(err.Error(), `node "node:re_lu" (LeakyRelu)`) || !strings.Contains(err.Error(), "not supported") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("unsupported op: error %v", err)
	}
}

// TestImportIdentityNoInput checks that an Identity or Dropout without
// inputs is an error, not a panic.
func TestImportIdentityNoInput(t *testing.T) {
	for _, op := range []string{"Identity", "Dropout"} {
		mp, err := ExportFloat(tinyModel(t))
		if err != nil {
			t.Fatal(err)
		}
		n := mp.GetGraph().GetNode()[1]
		n.OpType = &op
		n.Input = nil
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s without inputs: panic %v", op, r)
				}
			}()
			if _, err := Import(mp); err == nil || !strings.Contains(err.Error(), "missing input 0") {
				t.Errorf("%s without inputs: error %v, want missing input 0", op, err)
			}
		}()
	}
}

// TestImportMatMulAddNoOutput checks that a MatMul whose only consumer is
// an Add without outputs (the fixture's fc2_bias) is an error, not a panic.
func TestImportMatMulAddNoOutput(t *testing.T) {
	mp, err := ReadFile("testdata/fixture.onnx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetName() == "fc2_bias" {
			n.Output, found = nil, true
		}
	}
	if !found {
		t.Fatal("the fixture has no node fc2_bias")
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic %v", r)
		}
	}()
	if _, err := Import(mp); err == nil || !strings.Contains(err.Error(), `node "fc2_bias" (Add): node has no outputs`) {
		t.Errorf("error %v, want fc2_bias without outputs", err)
	}
}
