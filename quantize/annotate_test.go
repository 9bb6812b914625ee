package quantize

import (
	"context"
	"strings"
	"testing"

	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// describe lists a model's layers as name:type, its parameters' names and
// values, and its prediction on x.
func describe(t *testing.T, m *nn.Model, x *tensor.Tensor) (string, [][]float32, []float32) {
	t.Helper()
	var layers []string
	for _, l := range m.Layers() {
		layers = append(layers, l.Name()+":"+l.Type())
		for _, p := range l.Params() {
			layers = append(layers, "  "+p.Name)
		}
	}
	y, err := m.Predict(context.Background(), x, x.Shape[0])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(layers, "\n"), snapshot(m), y.Data
}

// TestAnnotateModelEqualsModel checks tfmot's identity
// quantize_apply(quantize_annotate_model(m)) == quantize_model(m): the same
// layers, parameters and predictions, for a Sequential CNN (folded BN,
// fused ReLU), a model with a separable convolution split by a rewrite,
// and mobilenet-tiny (residual Adds, ReLU6, depthwise).
func TestAnnotateModelEqualsModel(t *testing.T) {
	sep, err := nn.NewSequential(tensor.Shape{12, 12, 1},
		nn.NewSeparableConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU6(),
		nn.NewGlobalAveragePooling2D(), nn.NewDense(4))
	if err != nil {
		t.Fatal(err)
	}
	sep.InitWeights(2)
	mn, err := models.Build("mobilenet-tiny", tensor.Shape{12, 12, 1}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := imageData(3, 4)
	for _, m := range []*nn.Model{smallCNN(t), sep, mn} {
		want, err := Model(m, WithFreezeBNAfter(3))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Apply(m, AnnotateModel(m), WithFreezeBNAfter(3))
		if err != nil {
			t.Fatal(err)
		}
		wl, wp, wy := describe(t, want, x)
		gl, gp, gy := describe(t, got, x)
		if gl != wl {
			t.Fatalf("%s: Apply(AnnotateModel) layers\n%s\nModel layers\n%s", m.Name(), gl, wl)
		}
		if !sameSnapshot(gp, wp) || sameBits(gy, wy) >= 0 {
			t.Errorf("%s: Apply(AnnotateModel) differs from Model in weights or predictions", m.Name())
		}
		if !strings.Contains(gl, ":QuantizeInput") {
			t.Errorf("%s: AnnotateModel did not quantize the input", m.Name())
		}
	}
}

// TestAnnotateModelWithCustomLayer checks that AnnotateModel leaves a
// custom layer to its own annotation, in either order, and that without
// one Apply reports the layer.
func TestAnnotateModelWithCustomLayer(t *testing.T) {
	m, cs := customModel(t)
	if _, err := Apply(m, AnnotateModel(m)); err == nil || !strings.Contains(err.Error(), cs.Name()) {
		t.Fatalf("Apply(AnnotateModel) on a custom layer: error %v, want one naming %q", err, cs.Name())
	}
	want, err := Model(m, AnnotateLayer(cs, scaleConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	x, _ := toyData(5, 6, 3, 9)
	wl, _, wy := describe(t, want, x)
	for i, opts := range [][]Option{
		{AnnotateModel(m), AnnotateLayer(cs, scaleConfig{})},
		{AnnotateLayer(cs, scaleConfig{}), AnnotateModel(m)},
	} {
		got, err := Apply(m, opts...)
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		gl, _, gy := describe(t, got, x)
		if gl != wl || sameBits(gy, wy) >= 0 {
			t.Errorf("order %d: Apply gave\n%s\nwant\n%s", i, gl, wl)
		}
		if w, ok := got.Layer(cs.Name()).(*QuantizeWrapper); !ok || w.WeightQuantizer("scale") == nil {
			t.Errorf("order %d: the custom layer's config was not used", i)
		}
	}
	other := smallCNN(t)
	if _, err := Apply(m, AnnotateModel(other)); err == nil {
		t.Error("no error for AnnotateModel of another model")
	}
}
