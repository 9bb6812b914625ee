package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestSliceGradCheck(t *testing.T) {
	for _, c := range []struct {
		axis, begin, end, step int
		in                     tensor.Shape
	}{
		{-1, 2, 5, 1, tensor.Shape{3, 2, 6}}, // channels
		{3, 0, 3, 1, tensor.Shape{2, 3, 6}},  // the same axis counted from the batch
		{1, 1, 3, 1, tensor.Shape{4, 2, 3}},  // H
		{-2, 1, 4, 2, tensor.Shape{2, 5, 3}}, // W, step 2
		{1, 0, 7, 3, tensor.Shape{7}},        // flat, step 3
	} {
		t.Run(fmt.Sprintf("axis%d_%d_%d_%d", c.axis, c.begin, c.end, c.step), func(t *testing.T) {
			gradCheck(t, &Slice{Axis: c.axis, Begin: c.begin, End: c.end, Step: c.step}, 3, true, 1e-2, 2e-2, c.in)
		})
	}
}

// naiveSlice slices x (N, in...) by explicit multi-indices.
func naiveSlice(x *tensor.Tensor, axis, begin, end, step int) []float32 {
	s := x.Shape // batch included; axis counts from the batch
	var out []float32
	idx := make([]int, len(s))
	for i := range x.Data {
		r := i
		for d := len(s) - 1; d >= 0; d-- {
			idx[d] = r % s[d]
			r /= s[d]
		}
		p := idx[axis]
		if p >= begin && p < end && (p-begin)%step == 0 {
			out = append(out, x.Data[i])
		}
	}
	return out
}

func TestSliceValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		axis, begin, end, step int
		in                     tensor.Shape
		out                    tensor.Shape
	}{
		{-1, 0, 4, 1, tensor.Shape{2, 3, 8}, tensor.Shape{2, 3, 4}},
		{-1, 4, 8, 1, tensor.Shape{2, 3, 8}, tensor.Shape{2, 3, 4}},
		{2, 1, 3, 1, tensor.Shape{2, 3, 8}, tensor.Shape{2, 2, 8}},
		{1, 0, 2, 1, tensor.Shape{2, 3, 8}, tensor.Shape{2, 3, 8}},
		{-1, 1, 8, 3, tensor.Shape{2, 3, 8}, tensor.Shape{2, 3, 3}},
		{1, 5, 6, 4, tensor.Shape{9}, tensor.Shape{1}},
		{-1, 1, 8, math.MaxInt, tensor.Shape{2, 3, 8}, tensor.Shape{2, 3, 1}},
	} {
		l := &Slice{Axis: c.axis, Begin: c.begin, End: c.end, Step: c.step}
		out, err := l.Build([]tensor.Shape{c.in})
		if err != nil || !out.Equal(c.out) {
			t.Fatalf("%+v: Build %v %v, want %v", c, out, err, c.out)
		}
		x := tensor.New(append([]int{5}, c.in...)...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		y := l.Forward(&Context{}, []*tensor.Tensor{x})
		ax := l.SampleAxis() + 1
		want := naiveSlice(x, ax, c.begin, c.end, c.step)
		if !y.Shape.Equal(append(tensor.Shape{5}, c.out...)) || fmt.Sprint(y.Data) != fmt.Sprint(want) {
			t.Fatalf("%+v: out %v %v, want %v", c, y.Shape, y.Data, want)
		}
		// Backward puts dOut back where Forward took it and zeros elsewhere.
		d := l.Backward(&Context{}, y)[0]
		for i, v := range d.Data {
			p := i / tensor.Shape(x.Shape[ax+1:]).Size() % x.Shape[ax]
			kept := p >= c.begin && p < c.end && (p-c.begin)%c.step == 0
			if kept && v != x.Data[i] || !kept && v != 0 {
				t.Fatalf("%+v: dx[%d] = %v (kept %v), x %v", c, i, v, kept, x.Data[i])
			}
		}
	}
}

func TestSliceErrors(t *testing.T) {
	for _, c := range []struct {
		l    *Slice
		in   []tensor.Shape
		frag string
	}{
		{&Slice{Axis: 0, Begin: 0, End: 1, Step: 1}, []tensor.Shape{{4}}, "batch"},
		{&Slice{Axis: -3, Begin: 0, End: 1, Step: 1}, []tensor.Shape{{2, 4}}, "batch"},
		{&Slice{Axis: 3, Begin: 0, End: 1, Step: 1}, []tensor.Shape{{2, 4}}, "out of range"},
		{&Slice{Axis: -1, Begin: 2, End: 2, Step: 1}, []tensor.Shape{{4}}, "begin < end"},
		{&Slice{Axis: -1, Begin: -1, End: 2, Step: 1}, []tensor.Shape{{4}}, "0 <= begin"},
		{&Slice{Axis: -1, Begin: 0, End: 2, Step: 0}, []tensor.Shape{{4}}, "step >= 1"},
		{&Slice{Axis: -1, Begin: 0, End: 5, Step: 1}, []tensor.Shape{{4}}, "dimension is 4"},
		{NewSlice(-1, 0, 1), []tensor.Shape{{4}, {4}}, "1 input"},
	} {
		_, err := c.l.Build(c.in)
		wantErrC(t, err, c.frag)
	}
	ctor, _ := lookup("Slice")
	for _, raw := range []string{`{"axis":0,"begin":0,"end":1}`, `{"axis":1,"begin":3,"end":1}`, `{"axis":1,"begin":0,"end":1,"step":-1}`, `{"axis":1,"offset":2}`} {
		if _, err := ctor("s", json.RawMessage(raw)); err == nil {
			t.Errorf("config %s accepted", raw)
		}
	}
}

// TestSliceModel splits channels as ShuffleNet v2 does (two Slices of one
// tensor, one through a convolution, joined again): the model saves and
// loads with the same outputs, and Summary shows the layers.
func TestSliceModel(t *testing.T) {
	x := Input(4, 4, 6)
	a := Call(NewSlice(-1, 0, 3), x)
	b := Call(NewConv2D(3, 1, 1), Call(NewSlice(-1, 3, 6), x))
	y := Call(NewDense(2), Call(NewFlatten(), Call(NewConcatenate(), a, b)))
	m := must(t)(NewModel([]*Node{x}, []*Node{y}))
	if s := m.Summary(); !strings.Contains(s, "slice (Slice)") || !strings.Contains(s, "(None, 4, 4, 3)") {
		t.Errorf("Summary lacks the slices:\n%s", s)
	}
	in := randTensor(rand.New(rand.NewPCG(5, 6)), 3, 4, 4, 6)
	path := filepath.Join(t.TempDir(), "slice.safetensors")
	if err := Save(path, m); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(t.Context(), in, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Predict(t.Context(), in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Data) != fmt.Sprint(want.Data) {
		t.Errorf("loaded model computes %v, saved %v", got.Data, want.Data)
	}
}
