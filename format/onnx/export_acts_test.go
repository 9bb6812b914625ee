package onnx

import (
	"context"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// seExportModel is a MobileNetV3/EfficientNet-style float model: hard_swish
// after Conv+BN, a squeeze-and-excitation gate broadcast through
// Reshape(1,1,C) (hard_sigmoid), another broadcast from (C) directly
// (sigmoid), silu, a Multiply of three inputs, GlobalMaxPooling2D.
//
//	in 28x28x1 -> Conv 6 3x3/2 BN hard_swish (h) -> 13x13x6
//	y = Multiply(h, Reshape(1,1,6)(hard_sigmoid(Dense 6 (ReLU(Dense 3 (GAP(h)))))))
//	u = silu(Conv 8 3x3/2 (y)) -> 6x6x8
//	v = Multiply(u, sigmoid(Dense 8 (GAP(u))), swish(u))   (float only: three inputs)
//	GlobalMaxPooling2D -> Dense 10
func seExportModel(t *testing.T, three bool) *nn.Model {
	t.Helper()
	act := func(f string, x *nn.Node) *nn.Node {
		a, err := nn.NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		return nn.Call(a, x)
	}
	x0 := nn.Input(28, 28, 1)
	c := nn.NewConv2D(6, 3, 3)
	c.Strides = [2]int{2, 2}
	h := act("hard_swish", nn.Call(nn.NewBatchNormalization(), nn.Call(c, x0)))
	s := nn.Call(nn.NewReLU(), nn.Call(nn.NewDense(3), nn.Call(nn.NewGlobalAveragePooling2D(), h)))
	s = nn.Call(nn.NewReshape(1, 1, 6), act("hard_sigmoid", nn.Call(nn.NewDense(6), s)))
	y := nn.Call(nn.NewMultiply(), h, s)
	c2 := nn.NewConv2D(8, 3, 3)
	c2.Strides = [2]int{2, 2}
	u := act("silu", nn.Call(c2, y))
	g := act("sigmoid", nn.Call(nn.NewDense(8), nn.Call(nn.NewGlobalAveragePooling2D(), u)))
	v := nn.Call(nn.NewMultiply(), u, g)
	if three {
		v = nn.Call(nn.NewMultiply(), u, g, act("swish", u))
	}
	out := nn.Call(nn.NewDense(10), nn.Call(nn.NewGlobalMaxPooling2D(), v))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{out})
	if err != nil {
		t.Fatal(err)
	}
	perturbBN(m, 3)
	return m
}

// TestExportTableActivations exports seExportModel as float and (after
// post-training calibration and conversion) as QDQ int8, runs both in the
// test evaluator against goqat (float: within 1e-4 of the row maximum;
// int8: at least 99% of the output codes within one step of the integer
// engine's and 90% identical), and checks both with the onnx checker.
func TestExportTableActivations(t *testing.T) {
	x := images(4, 13)
	m := seExportModel(t, true)
	mp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, n := range mp.GetGraph().GetNode() {
		ops[n.GetOpType()] = true
	}
	for _, op := range []string{"HardSigmoid", "Mul", "Sigmoid", "GlobalMaxPool"} {
		if !ops[op] {
			t.Errorf("no %s node in the float export", op)
		}
	}
	got, err := evalModel(mp, x.Shape, x.Data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), x, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d := rowRelDiff(got.v, want.Data, 10); d > 1e-4 {
		t.Errorf("float: exported graph differs from goqat by %g of the row maximum", d)
	}

	ip := checkQDQAgainstEngine(t, "int8", seExportModel(t, false), x)
	runChecker(t, map[string]*onnxpb.ModelProto{"se-float": mp, "se-int8": ip})
}
