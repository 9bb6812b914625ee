package onnx

import (
	"context"
	"math"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/tensor"
)

// TestEvalExportFloat runs exported float models in the test evaluator
// (ONNX semantics written from the spec) and compares with goqat:
// |onnx - goqat| <= 1e-4 * max|goqat| of each output row.
func TestEvalExportFloat(t *testing.T) {
	x := images(4, 11)
	for _, name := range models.Names() {
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 5)
		if err != nil {
			t.Fatal(err)
		}
		perturbBN(m, 6)
		mp, err := ExportFloat(m)
		if err != nil {
			t.Fatal(err)
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
			t.Errorf("%s: exported graph differs from goqat by %g of the row maximum", name, d)
		}
	}
	m := tinyModel(t)
	perturbBN(m, 1)
	mp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	xt := tensor.New(3, 8, 8, 1)
	for i := range xt.Data {
		xt.Data[i] = float32(i%11)/5 - 1
	}
	got, err := evalModel(mp, xt.Shape, xt.Data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), xt, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := rowRelDiff(got.v, want.Data, 3); d > 1e-4 {
		t.Errorf("tiny model: exported graph differs from goqat by %g of the row maximum", d)
	}
}

// rowRelDiff returns max |a-b| / max|b| over rows of k values.
func rowRelDiff(a []float64, b []float32, k int) float64 {
	worst := 0.0
	for r := 0; r < len(b)/k; r++ {
		m, d := 0.0, 0.0
		for j := r * k; j < (r+1)*k; j++ {
			m = max(m, math.Abs(float64(b[j])))
			d = max(d, math.Abs(a[j]-float64(b[j])))
		}
		worst = max(worst, d/max(m, 1e-30))
	}
	return worst
}

// TestEvalExportInteger runs exported QDQ models in the test evaluator
// and compares with goqat's integer engine: the evaluator computes each
// convolution in floating point on dequantized values, as a runtime that
// does not fuse QDQ does, so a value may round the other way near a tie;
// outputs must be within one quantization step on at least 99% of the
// values, and identical on most.
func TestEvalExportInteger(t *testing.T) {
	x := images(4, 12)
	cases := []struct {
		name, model string
		c           []convert.Option
		e           []Option
	}{
		{"mnist-cnn", "mnist-cnn", nil, nil},
		{"mobilenet-tiny", "mobilenet-tiny", nil, nil},
		{"mobilenet-tiny uint8", "mobilenet-tiny", nil, []Option{Uint8Activations()}},
		{"mnist-cnn full integer", "mnist-cnn", []convert.Option{convert.FullInteger()}, nil},
	}
	for _, c := range cases {
		_, im := intModel(t, c.model, nil, c.c...)
		mp, err := ExportInteger(im, c.e...)
		if err != nil {
			t.Fatal(err)
		}
		it, err := lite.NewInterpreter(im)
		if err != nil {
			t.Fatal(err)
		}
		it.KeepTensors() // tensors compared op by op
		if err := it.SetInput(0, x); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		want := it.OutputInt8(0)
		in := &rtensor{shape: x.Shape}
		if im.Tensors[im.Inputs[0]].DType == lite.Int8 {
			q := tensor.NewInt8(x.Shape...)
			tin := &im.Tensors[im.Inputs[0]]
			for i, v := range x.Data {
				q.Data[i] = int8(roundClamp(float64(v)/float64(tin.Scale) + float64(tin.ZeroPoint)))
			}
			if err := it.SetInputInt8(0, q); err != nil {
				t.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			want = it.OutputInt8(0)
			in.dt = onnxpb.TensorProto_INT8
			for _, v := range q.Data {
				in.v = append(in.v, float64(v))
			}
		} else {
			in.dt = onnxpb.TensorProto_FLOAT
			for _, v := range x.Data {
				in.v = append(in.v, float64(v))
			}
		}
		outs, err := evalGraph(mp.GetGraph(), map[string]*rtensor{mp.GetGraph().GetInput()[0].GetName(): in})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := outs[0]
		// Back to int8 steps: a float output is the dequantized int8 one.
		ot := &im.Tensors[im.Outputs[0]]
		for _, op := range im.Ops {
			if op.Output == im.Outputs[0] && op.Type == lite.OpDequantize {
				ot = &im.Tensors[op.Inputs[0]]
			}
		}
		same, within := 0, 0
		for i, w := range want.Data {
			g := got.v[i]
			if got.dt == onnxpb.TensorProto_FLOAT {
				g = g/float64(ot.Scale) + float64(ot.ZeroPoint)
			}
			d := math.Abs(g - float64(w))
			if d < 1e-3 {
				same++
			}
			if d <= 1+1e-3 {
				within++
			}
		}
		n := len(want.Data)
		t.Logf("%s: %d of %d outputs identical, %d within one step", c.name, same, n, within)
		if float64(within) < 0.99*float64(n) || float64(same) < 0.9*float64(n) {
			t.Errorf("%s: only %d identical and %d within one step of %d outputs", c.name, same, within, n)
		}
	}
}

func roundClamp(v float64) float64 { return math.Min(math.Max(math.RoundToEven(v), -128), 127) }
