package lite

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// TestSliceHand checks Slice on a (2, 4) sample by hand: the second half
// of the channels, and every other channel from 1.
func TestSliceHand(t *testing.T) {
	x := []int8{1, 2, 3, 4, 5, 6, 7, 8}
	got := runOp(t, []Tensor{i8t("x", 0.5, 3, 2, 4)}, i8t("y", 0.5, 3, 2, 2), Op{Type: OpSlice, Begin: 2, End: 4}, x)
	eq(t, "channels 2..3", got, []int8{3, 4, 7, 8})
	got = runOp(t, []Tensor{i8t("x", 0.5, 3, 2, 4)}, i8t("y", 0.5, 3, 2, 2), Op{Type: OpSlice, Begin: 1, End: 4, Step: 2}, x)
	eq(t, "channels 1, 3", got, []int8{2, 4, 6, 8})
	got = runOp(t, []Tensor{i8t("x", 0.5, 3, 2, 4)}, i8t("y", 0.5, 3, 1, 4), Op{Type: OpSlice, AxisFromEnd: 1, Begin: 1, End: 2}, x)
	eq(t, "row 1", got, []int8{5, 6, 7, 8})
	got = runOp(t, []Tensor{i8t("x", 0.5, 3, 2, 4)}, i8t("y", 0.5, 3, 2, 1), Op{Type: OpSlice, Begin: 2, End: 4, Step: math.MaxInt}, x)
	eq(t, "channel 2, step past the end", got, []int8{3, 7})
}

// refSlice is Slice written with explicit (outer, position, inner)
// indices.
func refSlice(x []int8, n int, s tensor.Shape, ax, begin, end, step int) []int8 {
	outer, dim, inner := s[:ax].Size(), s[ax], s[ax+1:].Size()
	var out []int8
	for r := range n * outer {
		for p := begin; p < end; p += step {
			for i := range inner {
				out = append(out, x[(r*dim+p)*inner+i])
			}
		}
	}
	return out
}

// TestSliceReference compares Slice on random codes, every axis of an
// (H, W, C) sample and steps 1 to 3, with refSlice and with the float
// layer nn.Slice on the dequantized codes (quantized again with the
// input's parameters, which the op keeps), over a batch large enough to
// be split across threads.
func TestSliceReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 16
	s := tensor.Shape{3, 5, 7}
	in := Tensor{Name: "x", Shape: s, DType: Int8, Scale: 0.037, ZeroPoint: -5, Bits: 8}
	x := make([]int8, n*s.Size())
	for i := range x {
		x[i] = int8(r.IntN(256) - 128)
	}
	xf := tensor.New(append([]int{n}, s...)...)
	qmath.Dequantize(x, xf.Data, in.Scale, in.ZeroPoint)
	for ax := range s {
		for _, c := range [][3]int{{0, s[ax], 1}, {1, s[ax], 1}, {0, 1, 1}, {1, s[ax] - 1, 2}, {0, s[ax], 3}} {
			begin, end, step := c[0], c[1], c[2]
			want := refSlice(x, n, s, ax, begin, end, step)
			out := in
			out.Name = "y"
			out.Shape = s.Clone()
			out.Shape[ax] = (end - begin + step - 1) / step
			got := runBatch(t, []Tensor{in}, out, Op{Type: OpSlice, AxisFromEnd: len(s) - 1 - ax, Begin: begin, End: end, Step: step}, n, x)
			what := fmt.Sprintf("axis %d [%d, %d) step %d", ax, begin, end, step)
			eq(t, what, got, want)
			l := &nn.Slice{Axis: ax + 1, Begin: begin, End: end, Step: step}
			if _, err := l.Build([]tensor.Shape{s}); err != nil {
				t.Fatal(err)
			}
			yf := l.Forward(&nn.Context{}, []*tensor.Tensor{xf})
			q := make([]int8, len(yf.Data))
			qmath.QuantizeInt8(yf.Data, q, in.Scale, in.ZeroPoint, -128, 127)
			eq(t, what+" (float layer)", got, q)
		}
	}
}

// TestSliceValidate checks that Validate refuses a Slice whose range does
// not fit its input, whose output shape or quantization differs from what
// it computes, and a range on another op.
func TestSliceValidate(t *testing.T) {
	good := func() *Model {
		return &Model{Tensors: []Tensor{i8t("x", 1, 0, 2, 6), i8t("y", 1, 0, 2, 3)},
			Ops: []Op{{Type: OpSlice, Inputs: []int{0}, Output: 1, Begin: 3, End: 6}}, Inputs: []int{0}, Outputs: []int{1}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mut  func(m *Model)
		frag string
	}{
		"end past the axis":  {func(m *Model) { m.Ops[0].End = 7 }, "want 0 <= begin < end <= 6"},
		"empty":              {func(m *Model) { m.Ops[0].Begin = 6 }, "begin < end"},
		"negative begin":     {func(m *Model) { m.Ops[0].Begin = -1 }, "0 <= begin"},
		"negative step":      {func(m *Model) { m.Ops[0].Step = -1 }, "step >= 1"},
		"axis":               {func(m *Model) { m.Ops[0].AxisFromEnd = 2 }, "slice axis 2"},
		"negative axis":      {func(m *Model) { m.Ops[0].AxisFromEnd = -1 }, "slice axis -1"},
		"output shape":       {func(m *Model) { m.Ops[0].Begin = 2 }, "output shape"},
		"scale":              {func(m *Model) { m.Tensors[1].Scale = 0.5 }, "quantization differs"},
		"range on a reshape": {func(m *Model) { m.Ops[0].Type, m.Tensors[1].Shape = OpReshape, tensor.Shape{12} }, "slice range on an op"},
	} {
		m := good()
		c.mut(m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), c.frag) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.frag)
		}
	}
}
