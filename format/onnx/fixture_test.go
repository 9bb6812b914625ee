package onnx

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"google.golang.org/protobuf/proto"
)

// TestImportFixture imports testdata/fixture.onnx, a CNN written by
// onnx.helper (make_fixture.py) with a depthwise Conv, a residual Add, a
// Concat, Pad, pools, a Flatten of an NCHW tensor, Gemm and MatMul + Add,
// then quantizes it, trains it one epoch with QAT, converts it and exports
// it (checked by the onnx checker). scripts/onnx_conformance.sh compares
// the imported model's outputs with ONNX Runtime's.
func TestImportFixture(t *testing.T) {
	m, err := ImportFile("testdata/fixture.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Inputs()[0]; !got.Equal(tensor.Shape{28, 28, 1}) {
		t.Errorf("input shape %v, want (28, 28, 1)", got)
	}
	want := map[string]string{"stem": "Conv2D", "bn": "BatchNormalization", "dw": "DepthwiseConv2D", "dw_relu6": "ReLU6",
		"residual": "Add", "concat": "Concatenate", "pad": "ZeroPadding2D", "maxpool": "MaxPooling2D",
		"avgpool": "AveragePooling2D", "flatten": "Flatten", "fc1": "Dense", "fc2": "Dense", "softmax": "Activation"}
	for name, typ := range want {
		if l := m.Layer(name); l == nil || l.Type() != typ {
			t.Errorf("layer %q: %v, want a %s", name, l, typ)
		}
	}
	if len(m.Layers()) != 17 {
		t.Errorf("%d layers, want 17 (the MatMul's bias Add fused):\n%s", len(m.Layers()), m.Summary())
	}
	if d := m.Layer("dw").(*nn.DepthwiseConv2D); d.Padding != "same" || d.Strides != [2]int{2, 2} {
		t.Errorf("depthwise padding %q strides %v, want same (2, 2)", d.Padding, d.Strides)
	}

	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		train = train.Take(256)
	} else {
		train = train.Take(512)
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		t.Fatal(err)
	}
	h, err := q.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 64, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Loss) != 1 || !(h.Loss[0] > 0) {
		t.Fatalf("QAT epoch: history %+v", h)
	}
	t.Logf("QAT epoch: loss %.3f", h.Loss[0])
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := ExportInteger(im)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	runChecker(t, map[string]*onnxpb.ModelProto{"fixture-int8": mp, "fixture-float": fp})
}

// flattenGraph is an ONNX graph x (N, 2, 3, 3) -> Flatten -> Gemm (18 ->
// 4), or with reshape, Reshape (N, -1) -> MatMul -> Add.
func flattenGraph(reshape bool, w, bias []float32) *onnxpb.ModelProto {
	b := newBuilder("flat")
	b.g.Input = append(b.g.Input, valueInfo("x", onnxpb.TensorProto_FLOAT, tensor.Shape{2, 3, 3}))
	wn := b.floats("w", []int{18, 4}, w)
	bn := b.floats("b", []int{4}, bias)
	var y string
	if reshape {
		shp := b.int64s("shape", []int{2}, []int64{0, -1})
		f := b.op("Reshape", "f", []string{"x", shp})
		mm := b.op("MatMul", "mm", []string{f, wn})
		y = b.op("Add", "y", []string{mm, bn})
	} else {
		f := b.op("Flatten", "f", []string{"x"}, attrInt("axis", 1))
		y = b.op("Gemm", "y", []string{f, wn, bn})
	}
	b.g.Output = append(b.g.Output, valueInfo(y, onnxpb.TensorProto_FLOAT, tensor.Shape{4}))
	return newModelProto(b.g, "", nil, nil)
}

// TestImportNCHWFlatten checks the layout mapping against a direct
// computation of ONNX's semantics: an NCHW input flattened in (C, H, W)
// order and multiplied by a matrix, imported as a goqat NHWC input,
// Flatten (H, W, C order) and a Dense with permuted rows.
func TestImportNCHWFlatten(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w, bias := make([]float32, 18*4), make([]float32, 4)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	for i := range bias {
		bias[i] = r.Float32()
	}
	const n = 3
	xNCHW := make([]float32, n*18)
	for i := range xNCHW {
		xNCHW[i] = r.Float32()*2 - 1
	}
	// The goqat input: the same images, NHWC.
	x := tensor.New(n, 3, 3, 2)
	for b := 0; b < n; b++ {
		for c := 0; c < 2; c++ {
			for h := 0; h < 3; h++ {
				for ww := 0; ww < 3; ww++ {
					x.Data[((b*3+h)*3+ww)*2+c] = xNCHW[((b*2+c)*3+h)*3+ww]
				}
			}
		}
	}
	for _, reshape := range []bool{false, true} {
		mp := flattenGraph(reshape, w, bias)
		data, err := proto.Marshal(mp)
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
		got, err := m.Predict(context.Background(), x, n)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n*4)
		for b := 0; b < n; b++ {
			for o := 0; o < 4; o++ {
				s := bias[o]
				for k := 0; k < 18; k++ {
					s += xNCHW[b*18+k] * w[k*4+o]
				}
				want[b*4+o] = s
			}
		}
		if d := maxDiff(got.Data, want); d > 1e-5 {
			t.Errorf("reshape %v: imported model differs from ONNX semantics by %g:\n got %v\nwant %v", reshape, d, got.Data, want)
		}
	}
}
