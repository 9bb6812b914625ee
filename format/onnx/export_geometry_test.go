package onnx

import (
	"context"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// geometryModel is a float model with dilated, grouped and depth-multiplied
// convolutions (stride 2 'same' among them), with BN to fold.
func geometryModel(t *testing.T) *nn.Model {
	t.Helper()
	c1 := nn.NewConv2D(6, 3, 3)
	c1.Padding, c1.DilationRate = "same", [2]int{2, 3}
	c2 := nn.NewConv2D(6, 3, 3)
	c2.Padding, c2.Groups = "same", 3
	d1 := nn.NewDepthwiseConv2D(3, 3)
	d1.Padding, d1.Strides, d1.DepthMultiplier = "same", [2]int{2, 2}, 2
	d2 := nn.NewDepthwiseConv2D(3, 3)
	d2.Padding, d2.DilationRate = "valid", [2]int{2, 2}
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1},
		c1, nn.NewBatchNormalization(), nn.NewReLU(), c2, nn.NewReLU(),
		d1, nn.NewBatchNormalization(), nn.NewReLU6(), d2, nn.NewReLU(),
		nn.NewGlobalAveragePooling2D(), nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	perturbBN(m, 8)
	return m
}

// convAttrs returns each Conv node's group and dilations.
func convAttrs(g *onnxpb.GraphProto) (groups []int64, dil [][]int64) {
	for _, n := range g.GetNode() {
		if n.GetOpType() == "Conv" {
			groups = append(groups, intAttr(n, "group", 1))
			dil = append(dil, ints(n, "dilations"))
		}
	}
	return groups, dil
}

// checkConvAttrs compares the Conv nodes' groups and dilations (nil for
// none written) with the model's.
func checkConvAttrs(t *testing.T, what string, g *onnxpb.GraphProto) {
	t.Helper()
	groups, dil := convAttrs(g)
	wantG := []int64{1, 3, 6, 12}
	wantD := [][]int64{{2, 3}, nil, nil, {2, 2}}
	if len(groups) != len(wantG) {
		t.Fatalf("%s: %d Conv nodes, want %d", what, len(groups), len(wantG))
	}
	for i := range wantG {
		if groups[i] != wantG[i] || len(dil[i]) != len(wantD[i]) || (dil[i] != nil && (dil[i][0] != wantD[i][0] || dil[i][1] != wantD[i][1])) {
			t.Errorf("%s: Conv %d has group %d dilations %v, want %d and %v", what, i, groups[i], dil[i], wantG[i], wantD[i])
		}
	}
}

// TestExportGeometry exports the geometry model as float and, quantized
// and converted, as QDQ: the Conv nodes carry the groups and dilations,
// the onnx checker accepts both, and the test evaluator computes what goqat
// computes (float: within 1e-4 of the row maximum; QDQ: the integer
// engine's codes, within one step on 99% of the values and identical on
// most, as TestEvalExportInteger).
func TestExportGeometry(t *testing.T) {
	m := geometryModel(t)
	x := images(3, 13)
	fp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	checkConvAttrs(t, "float", fp.GetGraph())
	got, err := evalModel(fp, x.Shape, x.Data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), x, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := rowRelDiff(got.v, want.Data, 10); d > 1e-4 {
		t.Errorf("float: exported graph differs from goqat by %g of the row maximum", d)
	}

	ip := checkQDQAgainstEngine(t, "QDQ", m, x)
	checkConvAttrs(t, "QDQ", ip.GetGraph())
	runChecker(t, map[string]*onnxpb.ModelProto{"geometry_float": fp, "geometry_qdq": ip})
}
