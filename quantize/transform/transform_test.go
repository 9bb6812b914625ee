package transform

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func testModel(t *testing.T) *nn.Model {
	t.Helper()
	in := nn.Input(6, 6, 2)
	h := nn.Call(nn.NewSeparableConv2D(3, 3, 3), in)
	h = nn.Call(nn.NewBatchNormalization(), h)
	h = nn.Call(nn.NewReLU6(), h)
	c := nn.NewConv2D(4, 1, 1)
	h2 := nn.Call(c, h)
	h2 = nn.Call(nn.NewBatchNormalization(), h2) // no activation
	h3 := nn.Call(nn.NewFlatten(), h2)
	out := nn.Call(nn.NewDense(2), h3)
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{out})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(4)
	return m
}

func predict(t *testing.T, m *nn.Model) []float32 {
	t.Helper()
	x := tensor.New(2, 6, 6, 2)
	for i := range x.Data {
		x.Data[i] = float32(i%11)/11 - 0.3
	}
	y, err := m.Predict(context.Background(), x, 2)
	if err != nil {
		t.Fatal(err)
	}
	return y.Data
}

func TestRoundTripAndSplit(t *testing.T) {
	m := testModel(t)
	g, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, b := predict(t, m), predict(t, m2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("rebuilt model output %d: %v, want %v", i, b[i], a[i])
		}
	}
	n, err := SplitSeparable(g)
	if err != nil || n != 1 {
		t.Fatalf("SplitSeparable = %d, %v", n, err)
	}
	if g.Node("separable_conv2d_depthwise") == nil || g.Node("separable_conv2d_pointwise") == nil {
		t.Fatal("split nodes missing")
	}
	m3, err := g.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := predict(t, m3)
	for i := range a {
		if d := a[i] - c[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("split model output %d: %v, want %v", i, c[i], a[i])
		}
	}
}

func TestFindAndFold(t *testing.T) {
	m := testModel(t)
	g, _ := FromModel(m)
	if _, err := SplitSeparable(g); err != nil {
		t.Fatal(err)
	}
	ms := FindFolds(g, nil)
	if len(ms) != 2 {
		t.Fatalf("%d folds, want 2", len(ms))
	}
	if ms[0].Conv.Name != "separable_conv2d_pointwise" || ms[0].Activation != "relu6" || ms[1].Act != nil {
		t.Fatalf("folds %+v %+v", ms[0], ms[1])
	}
	// Replace each chain by an identity-free stand-in: a 1x1 Conv2D with
	// the conv's config (the real fold lives in package quantize); the
	// graph must stay consistent.
	n, err := FoldBatchNorm(g, nil, func(mt Match) (*Node, error) {
		return &Node{Type: mt.Conv.Type, Config: mt.Conv.Config, Weights: mt.Conv.Weights}, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("FoldBatchNorm = %d, %v", n, err)
	}
	for _, x := range g.Nodes {
		if x.Type == "BatchNormalization" || x.Type == "ReLU6" {
			t.Fatalf("node %s left after folding", x.Name)
		}
	}
	if in := g.Node("conv2d").Inbound; len(in) != 1 || in[0] != "separable_conv2d_pointwise" {
		t.Fatalf("conv2d inbound %v", in)
	}
	if _, err := g.Build(); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(g.Node("conv2d").Config, &cfg); err != nil {
		t.Fatal(err)
	}
}
