package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"google.golang.org/protobuf/proto"
)

// sliceOp appends a Slice of x with constant starts, ends, axes and steps (nil:
// left out).
func (b *builder) sliceOp(x string, starts, ends, axes, steps []int64) string {
	ins := []string{x, b.int64s("starts", []int{len(starts)}, starts), b.int64s("ends", []int{len(ends)}, ends)}
	if axes != nil {
		ins = append(ins, b.int64s("axes", []int{len(axes)}, axes))
	}
	if steps != nil {
		ins = append(ins, b.int64s("steps", []int{len(steps)}, steps))
	}
	return b.op("Slice", "slice", ins)
}

// splitOp appends a Split of x along axis into len(outs) outputs, with
// part sizes split (nil: equal parts), and returns the outputs.
func (b *builder) splitOp(x string, axis int64, split []int64, k int) []string {
	ins := []string{x}
	if split != nil {
		ins = append(ins, b.int64s("split", []int{len(split)}, split))
	}
	var outs []string
	for range k {
		outs = append(outs, b.unique("part"))
	}
	b.node("Split", "split", ins, outs, attrInt("axis", axis))
	return outs
}

// TestImportSliceSplit imports Slice and Split of computed tensors
// (channels, H and W of NCHW images with steps and negative bounds, two
// axes at once, the whole axis, a Gemm output) against ONNX semantics.
func TestImportSliceSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const big = math.MaxInt64
	for _, tc := range []struct {
		name   string
		make   func(b *builder) string
		layers string
	}{
		{"split sizes", func(b *builder) string {
			p := b.splitOp(b.conv1x1(r, "x", 3, 6), 1, []int64{2, 4}, 2)
			return b.op("Concat", "cat", []string{b.op("Relu", "relu", []string{p[1]}), p[0]}, attrInt("axis", 1))
		}, "Conv2D Slice Slice ReLU Concatenate"},
		{"split equal", func(b *builder) string {
			p := b.splitOp(b.conv1x1(r, "x", 3, 6), -3, nil, 3)
			return b.op("Add", "add", []string{p[0], p[2]})
		}, "Conv2D Slice Slice Add"},
		{"split of H, one part read", func(b *builder) string {
			return b.splitOp(b.conv1x1(r, "x", 3, 2), 2, []int64{1, 3}, 2)[1]
		}, "Conv2D Slice"},
		{"split into one part", func(b *builder) string {
			return b.op("Relu", "relu", []string{b.splitOp(b.conv1x1(r, "x", 3, 2), 1, nil, 1)[0]})
		}, "Conv2D ReLU"},
		{"slice H step 2", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 2), []int64{1}, []int64{-1}, []int64{2}, []int64{2})
		}, "Conv2D Slice"},
		{"slice W and channels", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{-4, 1}, []int64{big, 3}, []int64{3, 1}, nil)
		}, "Conv2D Slice Slice"},
		{"slice the whole", func(b *builder) string {
			return b.op("Relu", "relu", []string{b.sliceOp(b.conv1x1(r, "x", 3, 2), []int64{0, -100}, []int64{big, 100}, []int64{0, 1}, nil)})
		}, "Conv2D ReLU"},
		{"slice features", func(b *builder) string {
			g := b.op("Flatten", "f", []string{b.op("GlobalAveragePool", "gap", []string{"x"})})
			y := b.op("Gemm", "fc", []string{g, b.floats("w", []int{3, 8}, randFloats(r, 24))})
			return b.sliceOp(y, []int64{2}, []int64{8}, []int64{-1}, []int64{3})
		}, "GlobalAveragePooling2D Dense Slice"},
		{"slice of (N, C, 1, 1)", func(b *builder) string {
			g := b.op("GlobalAveragePool", "gap", []string{b.conv1x1(r, "x", 3, 4)})
			return b.sliceOp(g, []int64{1, 0}, []int64{3, 1}, []int64{1, 3}, nil)
		}, "Conv2D GlobalAveragePooling2D Slice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 5)
			m := evalImport(t, b.finish(tc.make(b)), 3, 4, 5)
			if got := layerTypes(m); got != tc.layers {
				t.Errorf("layers %q, want %q", got, tc.layers)
			}
		})
	}
}

// TestImportSplitOpsets imports Split before opset 13 (sizes as an
// attribute) and at opset 18 (num_outputs parts of ceil(dim/k), the last
// smaller), and checks the Slice layers' ranges.
func TestImportSplitOpsets(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, tc := range []struct {
		name  string
		opset int64
		attrs []*onnxpb.AttributeProto
		k     int
		want  [][2]int
	}{
		{"opset 11 attribute", 11, []*onnxpb.AttributeProto{attrInts("split", 3, 4)}, 2, [][2]int{{0, 3}, {3, 7}}},
		{"opset 18 num_outputs", 18, []*onnxpb.AttributeProto{attrInt("num_outputs", 3)}, 3, [][2]int{{0, 3}, {3, 6}, {6, 7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 5)
			y := b.conv1x1(r, "x", 3, 7)
			var outs []string
			for range tc.k {
				outs = append(outs, b.unique("part"))
			}
			b.node("Split", "split", []string{y}, outs, append(tc.attrs, attrInt("axis", 1))...)
			mp := b.finish(b.op("Concat", "cat", outs, attrInt("axis", 1)))
			mp.OpsetImport[0].Version = proto.Int64(tc.opset)
			m, err := Import(mp)
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]int
			for _, l := range m.Layers() {
				if s, ok := l.(*nn.Slice); ok {
					if s.Axis != 3 || s.Step != 1 {
						t.Errorf("slice axis %d step %d, want the channels (3), step 1", s.Axis, s.Step)
					}
					got = append(got, [2]int{s.Begin, s.End})
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ranges %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("ranges %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestImportSliceErrors checks the one-line refusals of Slice and Split.
func TestImportSliceErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, tc := range []struct {
		name string
		make func(b *builder) string
		err  string
	}{
		{"negative step", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{-1}, []int64{math.MinInt64}, []int64{1}, []int64{-1})
		}, "only positive steps"},
		{"step 0", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{0}, []int64{2}, []int64{1}, []int64{0})
		}, "only positive steps"},
		{"part of the batch", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{0}, []int64{1}, []int64{0}, nil)
		}, "only the whole batch"},
		{"empty", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{3}, []int64{1}, []int64{1}, nil)
		}, "is empty"},
		{"repeated axis", func(b *builder) string {
			return b.sliceOp(b.conv1x1(r, "x", 3, 4), []int64{0, 1}, []int64{2, 3}, []int64{1, -3}, nil)
		}, "repeated"},
		{"computed bounds", func(b *builder) string {
			y := b.conv1x1(r, "x", 3, 4)
			return b.op("Slice", "s", []string{y, b.int64s("s", []int{1}, []int64{0}), y})
		}, "must be a constant"},
		{"flattened NCHW", func(b *builder) string {
			return b.sliceOp(b.op("Flatten", "f", []string{b.conv1x1(r, "x", 3, 4)}), []int64{0}, []int64{8}, []int64{1}, nil)
		}, "flattened NCHW"},
		{"split of the batch", func(b *builder) string {
			return b.splitOp(b.conv1x1(r, "x", 3, 4), 0, nil, 2)[0]
		}, "split of the batch axis"},
		{"unequal parts", func(b *builder) string {
			return b.splitOp(b.conv1x1(r, "x", 3, 5), 1, nil, 2)[0]
		}, "does not split into 2 equal parts"},
		{"sizes sum", func(b *builder) string {
			return b.splitOp(b.conv1x1(r, "x", 3, 5), 1, []int64{2, 2}, 2)[0]
		}, "sum to 4"},
		{"size 0", func(b *builder) string {
			return b.splitOp(b.conv1x1(r, "x", 3, 4), 1, []int64{0, 4}, 2)[1]
		}, "every part must hold 1 to 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 5)
			err := importError(b.finish(tc.make(b)))
			if !strings.Contains(err, tc.err) || strings.Contains(err, "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.err)
			}
		})
	}
}

// sliceNet is a float model with Slice layers on the channels (ShuffleNet
// v2's split), on H with a step and on the features of a Dense.
func sliceNet(t *testing.T) *nn.Model {
	t.Helper()
	x := nn.Input(28, 28, 1)
	c := nn.NewConv2D(8, 3, 3)
	c.Strides, c.Padding = [2]int{2, 2}, "same"
	h := nn.Call(nn.NewReLU(), nn.Call(c, x))
	a := nn.Call(nn.NewSlice(-1, 0, 4), h)
	br := nn.Call(nn.NewReLU(), nn.Call(nn.NewConv2D(4, 1, 1), nn.Call(nn.NewSlice(-1, 4, 8), h)))
	y := nn.Call(nn.NewConcatenate(), a, br)
	y = nn.Call(&nn.Slice{Axis: 1, Begin: 1, End: 14, Step: 2}, y)
	y = nn.Call(nn.NewDense(12), nn.Call(nn.NewGlobalAveragePooling2D(), y))
	y = nn.Call(nn.NewSlice(-1, 2, 12), y)
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestExportSlice exports a model with Slice layers as float ONNX and,
// quantized and converted, as QDQ (Slice on the int8 values): the onnx
// checker accepts both, the test evaluator computes what goqat computes
// (float within 1e-5 of the row maximum; QDQ the integer engine's codes,
// as checkQDQAgainstEngine), ONNX Runtime too when it is installed
// (skipped with a message otherwise), and the float export imports back
// into the same layers.
func TestExportSlice(t *testing.T) {
	m := sliceNet(t)
	x := images(4, 41)
	want, err := m.Predict(context.Background(), x, 4)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	slices := 0
	for _, n := range fp.GetGraph().GetNode() {
		if n.GetOpType() == "Slice" {
			slices++
		}
	}
	if slices != 4 {
		t.Errorf("%d Slice nodes, want 4", slices)
	}
	got, err := evalModel(fp, x.Shape, x.Data)
	if err != nil {
		t.Fatal(err)
	}
	if d := rowRelDiff(got.v, want.Data, 10); d > 1e-5 {
		t.Errorf("float: exported graph differs from goqat by %g of the row maximum", d)
	}
	back := roundTrip(t, fp)
	if a, b := layerTypes(back), layerTypes(m); a != b {
		t.Errorf("imported back: layers %q, want %q", a, b)
	}
	ip := checkQDQAgainstEngine(t, "QDQ", m, x)
	runChecker(t, map[string]*onnxpb.ModelProto{"slice_float": fp, "slice_qdq": ip})

	ort, why := ortPath()
	if ort == "" {
		t.Log(why)
		return
	}
	if d := rowRelDiff(f64(runORT(t, ort, fp, x)), want.Data, 10); d > 1e-5 {
		t.Errorf("float export in ONNX Runtime differs from goqat by %g of the row maximum", d)
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Calibrate(context.Background(), q, images(64, 2), 32); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
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
	codes := it.OutputInt8(0).Data
	ot := &im.Tensors[im.Outputs[0]]
	for _, op := range im.Ops {
		if op.Output == im.Outputs[0] && op.Type == lite.OpDequantize {
			ot = &im.Tensors[op.Inputs[0]]
		}
	}
	qp, err := ExportInteger(im)
	if err != nil {
		t.Fatal(err)
	}
	out := runORT(t, ort, qp, x)
	same, within := 0, 0
	for i, c := range codes {
		d := math.Abs(float64(out[i])/float64(ot.Scale) + float64(ot.ZeroPoint) - float64(c))
		if d < 1e-3 {
			same++
		}
		if d <= 1+1e-3 {
			within++
		}
	}
	t.Logf("QDQ in ONNX Runtime: %d of %d outputs identical to goqat's int8, %d within one step", same, len(codes), within)
	if n := float64(len(codes)); float64(within) < 0.99*n || float64(same) < 0.9*n {
		t.Errorf("QDQ in ONNX Runtime: only %d identical and %d within one step of %d outputs", same, within, len(codes))
	}
}

// f64 converts float32 values to float64.
func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
