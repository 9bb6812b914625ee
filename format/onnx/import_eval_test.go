package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// graphBuilder starts an ONNX graph with one NCHW float input "x" of
// per-sample shape (C, H, W).
func graphBuilder(c, h, w int) *builder {
	b := newBuilder("g")
	b.g.Input = append(b.g.Input, valueInfo("x", onnxpb.TensorProto_FLOAT, tensor.Shape{c, h, w}))
	return b
}

// finish makes y the graph's output and returns the model.
func (b *builder) finish(y string) *onnxpb.ModelProto {
	b.g.Output = append(b.g.Output, valueInfo(y, onnxpb.TensorProto_FLOAT, nil))
	return newModelProto(b.g, "", nil, nil)
}

// randFloats returns n values uniform in [-1, 1).
func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// conv1x1 appends a 1x1 Conv with random weights to c channels of out.
func (b *builder) conv1x1(r *rand.Rand, x string, in, out int) string {
	w := b.floats("w", []int{out, in, 1, 1}, randFloats(r, out*in))
	bias := b.floats("b", []int{out}, randFloats(r, out))
	return b.op("Conv", "conv", []string{x, w, bias}, attrInts("kernel_shape", 1, 1))
}

// relDiff returns max |a - b| / max |b|.
func relDiff(a []float32, b []float64) float64 {
	d, m := 0.0, 0.0
	for i := range b {
		d = max(d, math.Abs(float64(a[i])-b[i]))
		m = max(m, math.Abs(b[i]))
	}
	return d / max(m, 1e-30)
}

// nchwToNHWC returns NCHW images (n, c, h, w) as a goqat tensor (n, h, w, c).
func nchwToNHWC(v []float32, c, h, w int) *tensor.Tensor {
	n := len(v) / (c * h * w)
	x := tensor.New(n, h, w, c)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					x.Data[((b*h+y)*w+xx)*c+ch] = v[((b*c+ch)*h+y)*w+xx]
				}
			}
		}
	}
	return x
}

// nhwcToNCHW returns a goqat (N, H, W, C) tensor's values in NCHW order.
func nhwcToNCHW(x *tensor.Tensor) []float32 {
	n, h, w, c := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	out := make([]float32, len(x.Data))
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				for ch := 0; ch < c; ch++ {
					out[((b*c+ch)*h+y)*w+xx] = x.Data[((b*h+y)*w+xx)*c+ch]
				}
			}
		}
	}
	return out
}

// evalImport imports mp and runs the model in goqat and mp in the test
// evaluator (ONNX semantics) on three random NCHW images (c, h, w) with
// values in [-1, 1): the outputs must agree within 1e-5 of the largest
// magnitude. The imported model must also export, and the exported graph
// must compute goqat's outputs in the evaluator. It returns the model.
func evalImport(t *testing.T, mp *onnxpb.ModelProto, c, h, w int) *nn.Model {
	t.Helper()
	m := roundTrip(t, mp)
	r := rand.New(rand.NewPCG(3, 4))
	const n = 3
	xs := randFloats(r, n*c*h*w)
	want, err := evalModel(mp, []int{n, c, h, w}, xs)
	if err != nil {
		t.Fatal(err)
	}
	x := nchwToNHWC(xs, c, h, w)
	got, err := m.Predict(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Data
	if len(got.Shape) == 4 {
		g = nhwcToNCHW(got)
	}
	if len(g) != len(want.v) {
		t.Fatalf("goqat output %v, ONNX %v", got.Shape, want.shape)
	}
	if d := relDiff(g, want.v); d > 1e-5 {
		t.Errorf("imported model differs from ONNX semantics by %.3g of the largest output\n%s", d, m.Summary())
	}
	back, err := ExportFloat(m)
	if err != nil {
		t.Fatalf("the imported model does not export: %v", err)
	}
	again, err := evalModel(back, x.Shape, x.Data)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(got.Data, again.v); d > 1e-5 {
		t.Errorf("the imported model, exported again, differs from goqat by %.3g of the largest output", d)
	}
	return m
}

// layerTypes returns the types of a model's layers, joined by spaces.
func layerTypes(m *nn.Model) string {
	var ts []string
	for _, l := range m.Layers() {
		ts = append(ts, l.Type())
	}
	return strings.Join(ts, " ")
}

// importError imports mp and returns its error ("" if it imports).
func importError(mp *onnxpb.ModelProto) string {
	if _, err := Import(mp); err != nil {
		return err.Error()
	}
	return ""
}
