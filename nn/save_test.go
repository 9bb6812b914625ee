package nn

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// everyLayerModel builds a Functional model using every built-in layer type
// and the custom TestScale layer.
func everyLayerModel(t *testing.T) *Model {
	t.Helper()
	softmax, err := NewActivation("softmax")
	if err != nil {
		t.Fatal(err)
	}
	x := Input(12, 12, 3)
	a := Call(NewZeroPadding2D(1, 1, 1, 1), x)
	a = Call(NewConv2D(8, 3, 3), a)
	a = Call(NewBatchNormalization(), a)
	a = Call(NewReLU(), a)
	b := Call(NewReLU6(), Call(NewDepthwiseConv2D(3, 3), a))
	c := Call(NewSeparableConv2D(8, 3, 3), a)
	s := Call(NewAdd(), b, c)
	p := Call(NewMaxPooling2D(2, 2), s)
	q := Call(NewAveragePooling2D(2, 2), s)
	k := Call(NewConcatenate(), p, q)
	// Squeeze-and-excitation-like: k times its channel maxima.
	se := Call(NewMultiply(), k, Call(NewReshape(1, 1, 16), Call(NewGlobalMaxPooling2D(), k)))
	g := Call(NewGlobalAveragePooling2D(), Call(&Slice{Axis: -1, Begin: 1, End: 16, Step: 2}, se))
	f := Call(NewFlatten(), Call(NewReshape(25, 8), p))
	d := Call(NewDropout(0.5), Call(NewDense(16), f))
	e := Call(&testScale{Offset: 0.25}, Call(NewConcatenate(), g, d))
	o := Call(softmax, Call(NewDense(4), e))
	m := must(t)(NewModel([]*Node{x}, []*Node{o}))
	// Move every weight and statistic off its initial value.
	r := rand.New(rand.NewPCG(11, 11))
	for _, prm := range m.Params() {
		for i := range prm.Value.Data {
			if prm.Name == "moving_variance" {
				prm.Value.Data[i] = 0.5 + float32(r.Float64())
			} else {
				prm.Value.Data[i] += float32(r.NormFloat64() * 0.1)
			}
		}
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(12, 12))
	for _, tc := range []struct {
		name  string
		model *Model
		x     *tensor.Tensor
	}{
		{"functional", everyLayerModel(t), randTensor(r, 5, 12, 12, 3)},
		{"sequence", everySequenceLayerModel(t), randIndices(r, 5, 8, 20)},
		{"sequential", func() *Model {
			m := newCNN(t)
			m.SetName("cnn")
			return m
		}(), randTensor(r, 5, 8, 8, 1)},
		{"nested", nestedModel(t), randTensor(r, 5, 8, 8, 1)},
	} {
		m := tc.model
		path := filepath.Join(dir, tc.name+".safetensors")
		if err := Save(path, m); err != nil {
			t.Fatalf("%s: Save: %v", tc.name, err)
		}
		l, err := Load(path)
		if err != nil {
			t.Fatalf("%s: Load: %v", tc.name, err)
		}
		want, err := m.Predict(context.Background(), tc.x, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Predict(context.Background(), tc.x, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want.Data {
			if math.Float32bits(want.Data[i]) != math.Float32bits(got.Data[i]) {
				t.Fatalf("%s: output %d: loaded %v, saved %v", tc.name, i, got.Data[i], want.Data[i])
			}
		}
		if l.Summary() != m.Summary() || l.Name() != m.Name() || l.Sequential() != m.Sequential() {
			t.Errorf("%s: loaded model differs:\n%s\nwant\n%s", tc.name, l.Summary(), m.Summary())
		}
		if !sameBits(weightBits(l), weightBits(m)) {
			t.Errorf("%s: weights differ", tc.name)
		}
	}
	types := map[string]bool{}
	for _, l := range append(append(everyLayerModel(t).Layers(), everySequenceLayerModel(t).Layers()...), nestedModel(t).Layers()...) {
		types[l.Type()] = true
	}
	for _, typ := range RegisteredTypes() {
		// Types the tests register (composite_test.go, the examples)
		// have their own round trips.
		testTypes := map[string]bool{"TestScale": true, "TestResidualBlock": true, "TestTwoTower": true, "DenseResidual": true}
		if !types[typ] && !testTypes[typ] {
			t.Errorf("registered layer type %s is not covered by the round-trip test", typ)
		}
	}
}

func TestSaveCustomConfig(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{3}, &testScale{Offset: 1.5}))
	f, err := ToSafetensors(m)
	if err != nil {
		t.Fatal(err)
	}
	l, err := FromSafetensors(f)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := l.Layers()[0].(*testScale); !ok || s.Offset != 1.5 || s.Name() != "test_scale" {
		t.Errorf("custom layer loaded as %#v", l.Layers()[0])
	}
	// An unregistered type cannot be saved.
	x := Input(3)
	u := must(t)(NewModel([]*Node{x}, []*Node{Call(&testSum{}, x, x)}))
	if err := Save(filepath.Join(t.TempDir(), "u.safetensors"), u); err == nil || !strings.Contains(err.Error(), `type "TestSum" is not registered`) {
		t.Errorf("unregistered save: %v", err)
	}
}

// corrupt returns a copy of a saved small model's File after edit changes
// its architecture (decoded as generic JSON) and tensors.
func corrupt(t *testing.T, edit func(arch map[string]any, tensors map[string]safetensors.Tensor)) *safetensors.File {
	t.Helper()
	x := Input(4)
	h := Call(NewDense(8), x)
	y := Call(NewDense(2), Call(NewAdd(), h, Call(NewReLU(), h)))
	f, err := ToSafetensors(must(t)(NewModel([]*Node{x}, []*Node{y})))
	if err != nil {
		t.Fatal(err)
	}
	var arch map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[ModelMetadataKey]), &arch); err != nil {
		t.Fatal(err)
	}
	edit(arch, f.Tensors)
	js, err := json.Marshal(arch)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata[ModelMetadataKey] = string(js)
	return f
}

// layerJSON returns the i-th layer entry of an architecture.
func layerJSON(arch map[string]any, i int) map[string]any {
	return arch["layers"].([]any)[i].(map[string]any)
}

func TestLoadCorrupt(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(map[string]any, map[string]safetensors.Tensor)
		want string
	}{
		{"intact", func(map[string]any, map[string]safetensors.Tensor) {}, ""},
		{"unknown type", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 1)["type"] = "Bogus" },
			`layer "re_lu": unknown layer type "Bogus" (custom layers must call nn.Register before loading)`},
		{"missing weight", func(_ map[string]any, ts map[string]safetensors.Tensor) { delete(ts, "dense/kernel") },
			`missing weight "dense/kernel"`},
		{"wrong shape", func(_ map[string]any, ts map[string]safetensors.Tensor) {
			ts["dense/kernel"] = safetensors.F32([]int{8, 4}, make([]float32, 32))
		}, `weight "dense/kernel" has shape (8, 4), want (4, 8)`},
		{"wrong dtype", func(_ map[string]any, ts map[string]safetensors.Tensor) {
			ts["dense/bias"] = safetensors.I8([]int{8}, make([]int8, 8))
		}, `weight "dense/bias" has dtype I8, want F32`},
		{"extra tensor", func(_ map[string]any, ts map[string]safetensors.Tensor) {
			ts["dense/extra"] = safetensors.F32([]int{1}, []float32{1})
		}, `unexpected tensor "dense/extra"`},
		{"cycle", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 0)["inbound"] = []any{"add"} },
			`layer "dense": inbound "add" is defined after it (the graph has a cycle or is out of order)`},
		{"unknown inbound", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 1)["inbound"] = []any{"nope"} },
			`layer "re_lu": inbound "nope" is neither an input nor a layer`},
		{"no inbound", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 1)["inbound"] = []any{} },
			`layer "re_lu": no inbound tensors`},
		{"unknown output", func(a map[string]any, _ map[string]safetensors.Tensor) { a["outputs"] = []any{"nope"} },
			`output "nope" is neither an input nor a layer`},
		{"duplicate name", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 1)["name"] = "dense" },
			`duplicate name "dense"`},
		{"unknown field", func(a map[string]any, _ map[string]safetensors.Tensor) { a["extra"] = 1 },
			`unknown field "extra"`},
		{"unknown layer field", func(a map[string]any, _ map[string]safetensors.Tensor) { layerJSON(a, 0)["weights"] = 1 },
			`unknown field "weights"`},
		{"version", func(a map[string]any, _ map[string]safetensors.Tensor) { a["version"] = 2 },
			`unsupported version 2 (this goqat reads version 1)`},
		{"format", func(a map[string]any, _ map[string]safetensors.Tensor) { a["format"] = "keras" },
			`format "keras", want "goqat.model"`},
		{"kind", func(a map[string]any, _ map[string]safetensors.Tensor) { a["kind"] = "tree" },
			`kind "tree"`},
		{"not sequential", func(a map[string]any, _ map[string]safetensors.Tensor) { a["kind"] = "sequential" },
			`sequential layer "add" must take "re_lu" as its only input`},
		{"bad config", func(a map[string]any, _ map[string]safetensors.Tensor) {
			layerJSON(a, 0)["config"] = map[string]any{"units": -3, "use_bias": true}
		}, `units must be positive`},
		{"unknown config field", func(a map[string]any, _ map[string]safetensors.Tensor) {
			layerJSON(a, 0)["config"].(map[string]any)["activation"] = "relu"
		}, `unknown field "activation"`},
		{"bad input shape", func(a map[string]any, _ map[string]safetensors.Tensor) {
			a["inputs"].([]any)[0].(map[string]any)["shape"] = []any{0}
		}, `input "input_1"`},
		{"shape mismatch from input", func(a map[string]any, _ map[string]safetensors.Tensor) {
			a["inputs"].([]any)[0].(map[string]any)["shape"] = []any{5}
		}, `weight "dense/kernel" has shape (4, 8), want (5, 8)`},
		{"dangling layer", func(a map[string]any, _ map[string]safetensors.Tensor) { a["outputs"] = []any{"add"} },
			`1 of 4 layers do not lead to an output`},
	} {
		f := corrupt(t, c.edit)
		_, err := FromSafetensors(f)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: got %v\nwant one line containing %s", c.name, err, c.want)
		}
	}
	if _, err := FromSafetensors(&safetensors.File{}); err == nil || !strings.Contains(err.Error(), `not a goqat model`) {
		t.Errorf("no metadata: %v", err)
	}
	bad := corrupt(t, func(map[string]any, map[string]safetensors.Tensor) {})
	bad.Metadata[ModelMetadataKey] = "{"
	if _, err := FromSafetensors(bad); err == nil || !strings.Contains(err.Error(), "model architecture") {
		t.Errorf("truncated JSON: %v", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	f := corrupt(t, func(_ map[string]any, ts map[string]safetensors.Tensor) { delete(ts, "dense_1/bias") })
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + `: missing weight "dense_1/bias"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("garbage file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Errorf("missing file loaded")
	}
}

// nestedModel is a Functional model made of two nested models: a
// Functional one (a 1x1 convolution) feeding a Sequential one (newCNN).
func nestedModel(t *testing.T) *Model {
	t.Helper()
	x := Input(8, 8, 1)
	f := must(t)(NewModel([]*Node{x}, []*Node{Call(NewConv2D(1, 1, 1), x)}))
	seq := newCNN(t)
	xo := Input(8, 8, 1)
	m := must(t)(NewModel([]*Node{xo}, []*Node{Call(seq.AsLayer(), Call(f.AsLayer(), xo))}))
	r := rand.New(rand.NewPCG(13, 13))
	for _, prm := range m.Params() {
		for i := range prm.Value.Data {
			prm.Value.Data[i] += float32(r.NormFloat64() * 0.1)
		}
	}
	return m
}
