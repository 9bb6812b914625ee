package onnx

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// i64 returns an INT64 tensor of dimensions dims (nil: a scalar).
func i64(dims []int, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: dims64(dims), Int64Data: v}
}

// i32 returns an INT32 tensor.
func i32(dims []int, v ...int32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT32)), Dims: dims64(dims), Int32Data: v}
}

// f32 returns a FLOAT tensor.
func f32(dims []int, v ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims64(dims), FloatData: v}
}

// attrTensor returns a tensor attribute.
func attrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// foldNode folds one node of type op on constant inputs (nil: an absent
// optional input) at opset 13 and returns its output.
func foldNode(op string, ins []*onnxpb.TensorProto, attrs ...*onnxpb.AttributeProto) (*cval, error) {
	im := &importer{opset: 13, consts: map[string]*onnxpb.TensorProto{}, vals: map[string]*value{}, batchDep: map[string][]bool{}}
	n := &onnxpb.NodeProto{OpType: proto.String(op), Output: []string{"y"}, Attribute: attrs}
	for i, t := range ins {
		if t == nil {
			n.Input = append(n.Input, "")
			continue
		}
		name := fmt.Sprintf("in%d", i)
		im.consts[name] = t
		n.Input = append(n.Input, name)
	}
	done, err := im.fold(n)
	if err != nil {
		return nil, err
	}
	if !done {
		return nil, fmt.Errorf("%s was not folded", op)
	}
	return im.readCval("y")
}

// String returns c's type, dimensions and values.
func (c *cval) String() string {
	if c.isInt() {
		return fmt.Sprintf("%s%v %v", c.typ, c.dims, c.i)
	}
	return fmt.Sprintf("%s%v %v", c.typ, c.dims, c.f)
}

// TestFoldOps checks each folded op on small constants against values
// worked out by hand from the ONNX operator specifications (broadcasting,
// negative indices, ONNX's Slice clamping with negative steps, Div
// truncating toward zero as ONNX Runtime's integer division does).
func TestFoldOps(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	for _, c := range []struct {
		name  string
		op    string
		ins   []*onnxpb.TensorProto
		attrs []*onnxpb.AttributeProto
		want  string
	}{
		{"add broadcast", "Add", []*onnxpb.TensorProto{i64([]int{2, 1}, 1, 2), i64([]int{3}, 10, 20, 30)}, nil, "INT64[2 3] [11 21 31 12 22 32]"},
		{"sub scalar", "Sub", []*onnxpb.TensorProto{i64([]int{2}, 5, -5), i64(nil, 7)}, nil, "INT64[2] [-2 -12]"},
		{"mul int32", "Mul", []*onnxpb.TensorProto{i32([]int{2}, 3, -4), i32([]int{2}, 5, 6)}, nil, "INT32[2] [15 -24]"},
		{"div truncates", "Div", []*onnxpb.TensorProto{i64([]int{4}, 7, -7, 7, -7), i64([]int{4}, 2, 2, -2, -2)}, nil, "INT64[4] [3 -3 -3 3]"},
		{"chunk size", "Div", []*onnxpb.TensorProto{i64([]int{1}, 117), i64([]int{1}, 2)}, nil, "INT64[1] [58]"},
		{"div float", "Div", []*onnxpb.TensorProto{f32([]int{2}, 1, -3), f32([]int{2}, 4, 2)}, nil, "FLOAT[2] [0.25 -1.5]"},
		{"neg", "Neg", []*onnxpb.TensorProto{i64([]int{2}, 3, -5)}, nil, "INT64[2] [-3 5]"},
		{"cast truncates", "Cast", []*onnxpb.TensorProto{f32([]int{3}, 2.7, -2.7, 0.5)}, []*onnxpb.AttributeProto{attrInt("to", int64(onnxpb.TensorProto_INT64))}, "INT64[3] [2 -2 0]"},
		{"cast to float", "Cast", []*onnxpb.TensorProto{i64([]int{2}, 3, -1)}, []*onnxpb.AttributeProto{attrInt("to", int64(onnxpb.TensorProto_FLOAT))}, "FLOAT[2] [3 -1]"},
		{"cast to int32", "Cast", []*onnxpb.TensorProto{i64([]int{1}, -9)}, []*onnxpb.AttributeProto{attrInt("to", int64(onnxpb.TensorProto_INT32))}, "INT32[1] [-9]"},
		{"concat", "Concat", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{1}, 3)}, []*onnxpb.AttributeProto{attrInt("axis", 0)}, "INT64[3] [1 2 3]"},
		{"concat axis -1", "Concat", []*onnxpb.TensorProto{i64([]int{2, 1}, 1, 2), i64([]int{2, 2}, 3, 4, 5, 6)}, []*onnxpb.AttributeProto{attrInt("axis", -1)}, "INT64[2 3] [1 3 4 2 5 6]"},
		{"gather", "Gather", []*onnxpb.TensorProto{i64([]int{4}, 10, 11, 12, 13), i64([]int{2}, -1, 1)}, nil, "INT64[2] [13 11]"},
		{"gather scalar", "Gather", []*onnxpb.TensorProto{i64([]int{4}, 10, 11, 12, 13), i64(nil, 2)}, nil, "INT64[] [12]"},
		{"gather axis 1", "Gather", []*onnxpb.TensorProto{i64([]int{2, 3}, 0, 1, 2, 3, 4, 5), i32([]int{2}, 2, 0)}, []*onnxpb.AttributeProto{attrInt("axis", 1)}, "INT64[2 2] [2 0 5 3]"},
		{"unsqueeze", "Unsqueeze", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{2}, 0, -1)}, nil, "INT64[1 2 1] [1 2]"},
		{"squeeze all", "Squeeze", []*onnxpb.TensorProto{i64([]int{1, 2, 1}, 1, 2)}, nil, "INT64[2] [1 2]"},
		{"squeeze axis", "Squeeze", []*onnxpb.TensorProto{i64([]int{1, 2, 1}, 1, 2), i64([]int{1}, 0)}, nil, "INT64[2 1] [1 2]"},
		{"reshape 0 -1", "Reshape", []*onnxpb.TensorProto{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), i64([]int{2}, 0, -1)}, nil, "FLOAT[2 3] [1 2 3 4 5 6]"},
		{"reshape", "Reshape", []*onnxpb.TensorProto{i64([]int{2, 3}, 1, 2, 3, 4, 5, 6), i64([]int{2}, 3, -1)}, nil, "INT64[3 2] [1 2 3 4 5 6]"},
		{"slice to the end", "Slice", []*onnxpb.TensorProto{i64([]int{5}, 0, 1, 2, 3, 4), i64([]int{1}, -2), i64([]int{1}, maxI)}, nil, "INT64[2] [3 4]"},
		{"slice reversed", "Slice", []*onnxpb.TensorProto{i64([]int{5}, 0, 1, 2, 3, 4), i64([]int{1}, -1), i64([]int{1}, minI), i64([]int{1}, 0), i64([]int{1}, -1)}, nil, "INT64[5] [4 3 2 1 0]"},
		{"slice step 2", "Slice", []*onnxpb.TensorProto{i64([]int{5}, 0, 1, 2, 3, 4), i64([]int{1}, 1), i64([]int{1}, 100), nil, i64([]int{1}, 2)}, nil, "INT64[2] [1 3]"},
		{"slice step -2", "Slice", []*onnxpb.TensorProto{i64([]int{5}, 0, 1, 2, 3, 4), i64([]int{1}, 4), i64([]int{1}, 0), i64([]int{1}, 0), i64([]int{1}, -2)}, nil, "INT64[2] [4 2]"},
		{"slice huge step", "Slice", []*onnxpb.TensorProto{i64([]int{5}, 0, 1, 2, 3, 4), i64([]int{1}, 1), i64([]int{1}, maxI), nil, i64([]int{1}, maxI)}, nil, "INT64[1] [1]"},
		{"slice axis 1", "Slice", []*onnxpb.TensorProto{i64([]int{2, 3}, 0, 1, 2, 3, 4, 5), i64([]int{1}, 1), i64([]int{1}, 3), i64([]int{1}, -1)}, nil, "INT64[2 2] [1 2 4 5]"},
		{"slice empty", "Slice", []*onnxpb.TensorProto{i64([]int{3}, 0, 1, 2), i64([]int{1}, 2), i64([]int{1}, 1)}, nil, "INT64[0] []"},
		{"constant of shape", "ConstantOfShape", []*onnxpb.TensorProto{i64([]int{2}, 2, 2)}, []*onnxpb.AttributeProto{attrTensor("value", i64([]int{1}, 7))}, "INT64[2 2] [7 7 7 7]"},
		{"constant of shape default", "ConstantOfShape", []*onnxpb.TensorProto{i64([]int{1}, 2)}, nil, "FLOAT[2] [0 0]"},
		{"range", "Range", []*onnxpb.TensorProto{i64(nil, 1), i64(nil, 10), i64(nil, 3)}, nil, "INT64[3] [1 4 7]"},
		{"range down", "Range", []*onnxpb.TensorProto{i64(nil, 10), i64(nil, 1), i64(nil, -4)}, nil, "INT64[3] [10 6 2]"},
		{"range empty", "Range", []*onnxpb.TensorProto{i64(nil, 5), i64(nil, 1), i64(nil, 1)}, nil, "INT64[0] []"},
		{"range near the int64 limit", "Range", []*onnxpb.TensorProto{i64(nil, maxI-2), i64(nil, maxI), i64(nil, 5)}, nil, fmt.Sprintf("INT64[1] [%d]", int64(maxI-2))},
		{"shape", "Shape", []*onnxpb.TensorProto{f32([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6)}, nil, "INT64[3] [2 3 1]"},
		{"shape start", "Shape", []*onnxpb.TensorProto{f32([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6)}, []*onnxpb.AttributeProto{attrInt("start", 1)}, "INT64[2] [3 1]"},
		{"shape end", "Shape", []*onnxpb.TensorProto{f32([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6)}, []*onnxpb.AttributeProto{attrInt("end", -1)}, "INT64[2] [2 3]"},
		{"size", "Size", []*onnxpb.TensorProto{f32([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6)}, nil, "INT64[] [6]"},
	} {
		got, err := foldNode(c.op, c.ins, c.attrs...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestFoldOpErrors checks that folding refuses, with one line, what ONNX
// leaves undefined or what would overflow or grow past the bound:
// division by zero, int64 and int32 overflow, casts out of range, tensors
// of more than maxFoldElements values, malformed arguments.
func TestFoldOpErrors(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	to := func(typ onnxpb.TensorProto_DataType) []*onnxpb.AttributeProto {
		return []*onnxpb.AttributeProto{attrInt("to", int64(typ))}
	}
	for _, c := range []struct {
		name  string
		op    string
		ins   []*onnxpb.TensorProto
		attrs []*onnxpb.AttributeProto
		want  string
	}{
		{"division by zero", "Div", []*onnxpb.TensorProto{i64([]int{1}, 4), i64([]int{1}, 0)}, nil, "division of 4 by zero"},
		{"add overflow", "Add", []*onnxpb.TensorProto{i64([]int{1}, maxI), i64([]int{1}, 1)}, nil, "overflows INT64"},
		{"sub overflow", "Sub", []*onnxpb.TensorProto{i64([]int{1}, minI), i64([]int{1}, 1)}, nil, "overflows INT64"},
		{"mul overflow", "Mul", []*onnxpb.TensorProto{i64([]int{1}, 1<<32), i64([]int{1}, 1<<31)}, nil, "overflows INT64"},
		{"mul overflow -1", "Mul", []*onnxpb.TensorProto{i64([]int{1}, -1), i64([]int{1}, minI)}, nil, "overflows INT64"},
		{"int32 overflow", "Mul", []*onnxpb.TensorProto{i32([]int{1}, 1<<16), i32([]int{1}, 1<<15)}, nil, "overflows INT32"},
		{"div overflow", "Div", []*onnxpb.TensorProto{i64([]int{1}, minI), i64([]int{1}, -1)}, nil, "overflows INT64"},
		{"neg overflow", "Neg", []*onnxpb.TensorProto{i64([]int{1}, minI)}, nil, "overflows INT64"},
		{"cast NaN", "Cast", []*onnxpb.TensorProto{f32([]int{1}, float32(math.NaN()))}, to(onnxpb.TensorProto_INT64), "overflows"},
		{"cast huge float", "Cast", []*onnxpb.TensorProto{f32([]int{1}, 1e30)}, to(onnxpb.TensorProto_INT64), "overflows"},
		{"cast to int32", "Cast", []*onnxpb.TensorProto{i64([]int{1}, 1<<40)}, to(onnxpb.TensorProto_INT32), "overflows"},
		{"cast to uint8", "Cast", []*onnxpb.TensorProto{i64([]int{1}, 1)}, to(onnxpb.TensorProto_UINT8), "folding casts to INT64, INT32 and FLOAT"},
		{"types", "Add", []*onnxpb.TensorProto{i64([]int{1}, 1), i32([]int{1}, 1)}, nil, "types INT64 and INT32"},
		{"broadcast", "Add", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{3}, 1, 2, 3)}, nil, "do not broadcast"},
		{"huge broadcast", "Add", []*onnxpb.TensorProto{i64([]int{1 << 9, 1}, make([]int64, 1<<9)...), i64([]int{1 << 9}, make([]int64, 1<<9)...)}, nil, "more than 65536 values"},
		{"huge constant", "ConstantOfShape", []*onnxpb.TensorProto{i64([]int{2}, 1<<20, 1<<20)}, nil, "not supported"},
		{"large constant", "ConstantOfShape", []*onnxpb.TensorProto{i64([]int{2}, 1<<10, 1<<10)}, nil, "more than 65536 values"},
		{"negative shape", "ConstantOfShape", []*onnxpb.TensorProto{i64([]int{1}, -1)}, nil, "not supported"},
		{"huge range", "Range", []*onnxpb.TensorProto{i64(nil, 0), i64(nil, 1<<40), i64(nil, 1)}, nil, "more than 65536 values"},
		{"range delta 0", "Range", []*onnxpb.TensorProto{i64(nil, 0), i64(nil, 1), i64(nil, 0)}, nil, "delta 0"},
		{"float range", "Range", []*onnxpb.TensorProto{f32(nil, 0), f32(nil, 1), f32(nil, 0.5)}, nil, "integer Ranges only"},
		{"gather index", "Gather", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{1}, 2)}, nil, "index 2 out of range"},
		{"gather axis", "Gather", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{1}, 0)}, []*onnxpb.AttributeProto{attrInt("axis", 1)}, "axis 1 out of range"},
		{"reshape size", "Reshape", []*onnxpb.TensorProto{i64([]int{3}, 1, 2, 3), i64([]int{1}, 2)}, nil, "cannot reshape"},
		{"unsqueeze repeated", "Unsqueeze", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{2}, 0, 0)}, nil, "repeated"},
		{"squeeze not 1", "Squeeze", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{1}, 0)}, nil, "is not 1"},
		{"slice step 0", "Slice", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{1}, 0), i64([]int{1}, 1), nil, i64([]int{1}, 0)}, nil, "step 0"},
		{"slice arguments", "Slice", []*onnxpb.TensorProto{i64([]int{2}, 1, 2), i64([]int{2}, 0, 0), i64([]int{1}, 1)}, nil, "one value of each per axis"},
		{"concat axis", "Concat", []*onnxpb.TensorProto{i64([]int{1}, 1), i64([]int{1}, 2)}, nil, "axis is required"},
		{"data type", "Add", []*onnxpb.TensorProto{{DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)), Dims: []int64{1}, RawData: []byte{1}}, i64([]int{1}, 1)}, nil, "folding reads INT64, INT32 and FLOAT"},
	} {
		got, err := foldNode(c.op, c.ins, c.attrs...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (folded %v), want one line containing %q", c.name, err, got, c.want)
		}
	}
}

// chunkOps appends torch.chunk(x, k, dim=1) of x (N, C, H, W) as PyTorch
// 1.13 exports it at opset 13 (ShuffleNet v2's channel split): the chunk
// size (C + k - 1) / k computed from Shape, Gather, Add and Div, then a
// Slice per chunk whose bounds are that size times Mul constants. The
// constants are Constant nodes, as PyTorch writes them.
func (b *builder) chunkOps(x string, k int) []string {
	cst := func(v int64) string {
		return b.op("Constant", "c", nil, attrTensor("value", i64([]int{1}, v)))
	}
	axis := cst(1)
	c := b.op("Gather", "gather", []string{b.op("Shape", "shape", []string{x}), axis}, attrInt("axis", 0))
	size := b.op("Div", "div", []string{b.op("Add", "add", []string{c, cst(int64(k - 1))}), cst(int64(k))})
	var parts []string
	start := cst(0)
	for i := 1; i <= k; i++ {
		end := b.op("Mul", "mul", []string{size, cst(int64(i))})
		parts = append(parts, b.op("Slice", "slice", []string{x, start, end, axis}))
		start = end
	}
	return parts
}

// TestImportChunk imports torch.chunk as PyTorch exports it (chunkOps):
// ShuffleNet v2's stride-1 block (two halves, one through a branch, joined
// and shuffled) and a chunk into three unequal parts (7 channels: 3, 3, 1),
// against ONNX semantics; the shape subgraphs become constants, the Slices
// goqat Slice layers.
func TestImportChunk(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	t.Run("shufflenet block", func(t *testing.T) {
		b := graphBuilder(3, 4, 5)
		y := b.conv1x1(r, "x", 3, 6)
		halves := b.chunkOps(y, 2)
		br := b.conv1x1(r, b.op("Relu", "relu", []string{halves[1]}), 3, 3)
		cat := b.op("Concat", "cat", []string{halves[0], br}, attrInt("axis", 1))
		m := evalImport(t, b.finish(b.shuffleOps(cat, 6, 4, 5, 2)), 3, 4, 5)
		if n := strings.Count(layerTypes(m), "Slice"); n != 2 {
			t.Errorf("%d Slice layers, want 2: %s", n, layerTypes(m))
		}
	})
	t.Run("three chunks", func(t *testing.T) {
		b := graphBuilder(3, 4, 5)
		y := b.conv1x1(r, "x", 3, 7)
		parts := b.chunkOps(y, 3)
		cat := b.op("Concat", "cat", []string{parts[2], b.op("Relu", "relu", []string{parts[0]}), parts[1]}, attrInt("axis", 1))
		m := evalImport(t, b.finish(cat), 3, 4, 5)
		if got := layerTypes(m); got != "Conv2D Slice Slice Slice ReLU Concatenate" {
			t.Errorf("layers %q", got)
		}
	})
	t.Run("chunk, split, shuffle, view", func(t *testing.T) {
		evalImport(t, foldOpsGraph(), 3, 4, 5)
	})
}

// batchOps appends the dynamic-batch target (N, -1) of x.view(x.size(0),
// -1) as PyTorch exports it: Shape, Gather of entry 0, Unsqueeze, Concat
// with -1.
func (b *builder) batchOps(x string) string {
	n := b.op("Gather", "gather", []string{b.op("Shape", "shape", []string{x}), b.int64s("zero", nil, []int64{0})}, attrInt("axis", 0))
	n = b.op("Unsqueeze", "unsqueeze", []string{n, b.int64s("axes", []int{1}, []int64{0})})
	return b.op("Concat", "target", []string{n, b.int64s("rest", []int{1}, []int64{-1})}, attrInt("axis", 0))
}

// TestImportBatchShape imports a Reshape whose target starts with the
// batch size read from Shape (x.view(x.size(0), -1)): the batch entry
// depends on the batch size and is the batch, which goqat keeps dynamic,
// so the model runs on 3 images although the placeholder batch is 1.
func TestImportBatchShape(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	b := graphBuilder(3, 4, 5)
	g := b.op("GlobalAveragePool", "gap", []string{b.conv1x1(r, "x", 3, 6)})
	y := b.op("Reshape", "view", []string{g, b.batchOps(g)})
	w := b.floats("w", []int{6, 2}, randFloats(r, 12))
	m := evalImport(t, b.finish(b.op("Gemm", "fc", []string{y, w})), 3, 4, 5)
	if got := layerTypes(m); got != "Conv2D GlobalAveragePooling2D Dense" {
		t.Errorf("layers %q", got)
	}
}

// TestImportFoldErrors checks the one-line refusals around folding: an op
// that folds only on constants reading a computed tensor, a value computed
// from the batch size used where goqat needs a number (Slice bounds, a
// Reshape dimension other than the first), a division by zero in a shape
// subgraph.
func TestImportFoldErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	batchSize := func(b *builder, x string) string {
		return b.op("Gather", "gather", []string{b.op("Shape", "shape", []string{x}), b.int64s("zero", []int{1}, []int64{0})}, attrInt("axis", 0))
	}
	for _, tc := range []struct {
		name string
		make func(b *builder) string
		err  string
	}{
		{"gather of a computed tensor", func(b *builder) string {
			return b.op("Gather", "g", []string{b.conv1x1(r, "x", 3, 4), b.int64s("i", []int{1}, []int64{1})}, attrInt("axis", 1))
		}, `op type Gather is supported only on constants and shapes, which Import folds into constants; input "conv" is computed`},
		{"slice bounds from the batch", func(b *builder) string {
			y := b.conv1x1(r, "x", 3, 4)
			return b.op("Slice", "s", []string{y, b.int64s("s", []int{1}, []int64{0}), batchSize(b, y), b.int64s("a", []int{1}, []int64{1})})
		}, "depends on the batch size"},
		{"reshape dimension from the batch", func(b *builder) string {
			y := b.op("Flatten", "f", []string{b.op("GlobalAveragePool", "gap", []string{b.conv1x1(r, "x", 3, 4)})})
			nc := b.op("Mul", "nc", []string{batchSize(b, y), b.int64s("c", []int{1}, []int64{4})})
			return b.op("Reshape", "r", []string{y, b.op("Concat", "t", []string{b.int64s("one", []int{1}, []int64{1}), nc}, attrInt("axis", 0))})
		}, "depends on the batch size"},
		{"division by zero", func(b *builder) string {
			y := b.conv1x1(r, "x", 3, 4)
			c := b.op("Gather", "g", []string{b.op("Shape", "shape", []string{y}), b.int64s("i", []int{1}, []int64{1})}, attrInt("axis", 0))
			end := b.op("Div", "d", []string{c, b.int64s("zero", []int{1}, []int64{0})})
			return b.op("Slice", "s", []string{y, b.int64s("s", []int{1}, []int64{0}), end, b.int64s("a", []int{1}, []int64{1})})
		}, "integer division of 4 by zero"},
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

// TestFoldBatchMarks checks that the values computed from the batch entry
// of a Shape stay marked through Gather, Unsqueeze, Concat, arithmetic,
// Cast and Slice, and that the others do not.
func TestFoldBatchMarks(t *testing.T) {
	b := graphBuilder(3, 4, 5)
	s := b.op("Shape", "shape", []string{"x"}) // (N, 3, 4, 5)
	hw := b.op("Slice", "hw", []string{s, b.int64s("s", []int{1}, []int64{2}), b.int64s("e", []int{1}, []int64{4})})
	n := b.op("Gather", "n", []string{s, b.int64s("i", []int{1}, []int64{0})}, attrInt("axis", 0))
	n = b.op("Cast", "nf", []string{b.op("Mul", "n2", []string{n, b.int64s("two", nil, []int64{2})})}, attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	n = b.op("Cast", "ni", []string{n}, attrInt("to", int64(onnxpb.TensorProto_INT64)))
	all := b.op("Concat", "all", []string{n, hw, b.op("Unsqueeze", "u", []string{b.int64s("k", nil, []int64{7}), b.int64s("a", []int{1}, []int64{0})})}, attrInt("axis", 0))
	mp := b.finish(b.op("Relu", "relu", []string{"x"}))
	im := &importer{opset: 13, consts: map[string]*onnxpb.TensorProto{}, vals: map[string]*value{}, batchDep: map[string][]bool{},
		consumers: map[string][]*onnxpb.NodeProto{}, skip: map[*onnxpb.NodeProto]bool{}, graphOut: map[string]bool{}, names: map[string]bool{}}
	for _, t := range mp.GetGraph().GetInitializer() {
		im.consts[t.GetName()] = t
	}
	if _, err := im.input(mp.GetGraph().GetInput()[0]); err != nil {
		t.Fatal(err)
	}
	for _, nd := range mp.GetGraph().GetNode() {
		if err := im.node(nd); err != nil {
			t.Fatal(err)
		}
	}
	c, err := im.readCval(all)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(c.i, c.batch), "[2 4 5 7] [true false false false]"; got != want {
		t.Errorf("folded %s, want values and marks %s", got, want)
	}
}

// foldOpsGraph is a seed of FuzzImport and TestImportMutations with the
// ops folding and slicing read: torch.chunk as PyTorch exports it, a
// Split, the channel shuffle, and the (N, -1) Reshape of the batch.
func foldOpsGraph() *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(27, 28))
	b := graphBuilder(3, 4, 5)
	y := b.conv1x1(r, "x", 3, 4)
	halves := b.chunkOps(y, 2)
	p := b.splitOp(halves[1], 1, []int64{1, 1}, 2)
	cat := b.op("Concat", "cat", []string{halves[0], p[1], p[0]}, attrInt("axis", 1))
	g := b.op("GlobalAveragePool", "gap", []string{b.shuffleOps(cat, 4, 4, 5, 2)})
	return b.finish(b.op("Reshape", "view", []string{g, b.batchOps(g)}))
}
