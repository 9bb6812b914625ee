package quantize

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// seFloatModel is a small float model with the MobileNetV3 layers: a
// hard_swish after Conv+BN, a squeeze-and-excitation gate (Dense, ReLU,
// Dense, hard_sigmoid, Reshape, Multiply), a silu, a Multiply followed by
// a ReLU, and a GlobalMaxPooling2D head.
func seFloatModel(t *testing.T) *nn.Model {
	t.Helper()
	act := func(f string, x *nn.Node) *nn.Node {
		a, err := nn.NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		a.SetName(f)
		return nn.Call(a, x)
	}
	named := func(l nn.Layer, name string) nn.Layer { l.SetName(name); return l }
	x := nn.Input(8, 8, 2)
	c := nn.NewConv2D(4, 3, 3)
	c.UseBias = false
	h := act("hard_swish", nn.Call(nn.NewBatchNormalization(), nn.Call(c, x)))
	s := nn.Call(nn.NewReLU(), nn.Call(nn.NewDense(2), nn.Call(nn.NewGlobalAveragePooling2D(), h)))
	s = nn.Call(nn.NewReshape(1, 1, 4), act("hard_sigmoid", nn.Call(nn.NewDense(4), s)))
	y := nn.Call(named(nn.NewMultiply(), "se"), h, s)
	u := act("silu", y)
	v := nn.Call(nn.NewReLU(), nn.Call(named(nn.NewMultiply(), "gate"), u, act("sigmoid", y)))
	out := nn.Call(nn.NewDense(3), nn.Call(named(nn.NewGlobalMaxPooling2D(), "gmp"), v))
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{out})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModelPlacesTableActivations checks where Model puts fake quant in a
// squeeze-and-excitation model: the scheme's activation quantizer after
// hard_swish, hard_sigmoid, silu and the Multiply, the fixed sigmoid range,
// none after a Multiply followed by a ReLU (fused), none around
// GlobalMaxPooling2D; and that the exact inference is linked, also after a
// save and load, with identical inference outputs.
func TestModelPlacesTableActivations(t *testing.T) {
	sc := NBit{WeightBits: 8, ActivationBits: 6, PerAxis: true}
	q, err := Model(seFloatModel(t), WithScheme(sc))
	if err != nil {
		t.Fatal(err)
	}
	act := sc.Activation()
	for name, want := range map[string]*Spec{"hard_swish": &act, "hard_sigmoid": &act, "silu": &act, "se": &act, "sigmoid": &SoftmaxSpec, "gate": nil} {
		w, ok := q.Layer(name).(*QuantizeWrapper)
		if !ok {
			t.Errorf("layer %s is %T, want a QuantizeWrapper", name, q.Layer(name))
			continue
		}
		if (w.OutputSpec == nil) != (want == nil) || want != nil && *w.OutputSpec != *want {
			t.Errorf("layer %s output spec %+v, want %+v", name, w.OutputSpec, want)
		}
	}
	if _, ok := q.Layer("gmp").(*nn.GlobalMaxPooling2D); !ok {
		t.Errorf("gmp is %T, want the float layer (it keeps its input's scale)", q.Layer("gmp"))
	}
	if !KeepsScale("GlobalMaxPooling2D") {
		t.Error("KeepsScale(GlobalMaxPooling2D) is false")
	}
	for _, typ := range []string{"Multiply", "GlobalMaxPooling2D"} {
		if !slices.Contains(SupportedLayers(), typ) {
			t.Errorf("SupportedLayers has no %s", typ)
		}
	}
	// Calibrate, then compare inference before and after a save and load.
	r := rand.New(rand.NewPCG(9, 9))
	x := tensor.New(6, 8, 8, 2)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	if err := Calibrate(context.Background(), q, x, 6); err != nil {
		t.Fatal(err)
	}
	// 4 weighted layers, 4 table activations, 2 Multiply.
	if n := Link(q); n != 10 {
		t.Errorf("Link linked %d layers, want 10", n)
	}
	want, err := q.Predict(context.Background(), x, 6)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "se.safetensors")
	if err := nn.Save(path, q); err != nil {
		t.Fatal(err)
	}
	l, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := Link(l); n != 10 {
		t.Errorf("loaded model: Link linked %d layers, want 10", n)
	}
	got, err := l.Predict(context.Background(), x, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data, want.Data) {
		t.Error("the loaded model's inference differs")
	}
}
