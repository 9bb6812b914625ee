package nn

import (
	"encoding/json"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestConcatenateGradCheck(t *testing.T) {
	t.Run("last axis", func(t *testing.T) {
		gradCheck(t, NewConcatenate(), 3, true, 1e-2, 2e-2, tensor.Shape{2, 2, 3}, tensor.Shape{2, 2, 5})
	})
	t.Run("axis 1", func(t *testing.T) {
		c := NewConcatenate()
		c.Axis = 1
		gradCheck(t, c, 2, true, 1e-2, 2e-2, tensor.Shape{2, 3, 4}, tensor.Shape{1, 3, 4}, tensor.Shape{3, 3, 4})
	})
	t.Run("axis -2", func(t *testing.T) {
		c := NewConcatenate()
		c.Axis = -2
		gradCheck(t, c, 2, true, 1e-2, 2e-2, tensor.Shape{2, 3, 4}, tensor.Shape{2, 1, 4})
	})
}

func TestConcatenateValues(t *testing.T) {
	// Per sample (2, 1) and (2, 2) along the last axis -> (2, 3).
	c := NewConcatenate()
	out, err := c.Build([]tensor.Shape{{2, 1}, {2, 2}})
	if err != nil || !out.Equal(tensor.Shape{2, 3}) {
		t.Fatalf("Build: %v %v", out, err)
	}
	a, _ := tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2, 1)
	b, _ := tensor.FromSlice([]float32{10, 11, 20, 21, 30, 31, 40, 41}, 2, 2, 2)
	y := c.Forward(&Context{}, []*tensor.Tensor{a, b})
	want := []float32{1, 10, 11, 2, 20, 21, 3, 30, 31, 4, 40, 41}
	if !y.Shape.Equal(tensor.Shape{2, 2, 3}) {
		t.Fatalf("shape %v", y.Shape)
	}
	for i := range want {
		if y.Data[i] != want[i] {
			t.Fatalf("out %v, want %v", y.Data, want)
		}
	}
	d := c.Backward(&Context{}, y)
	for i, v := range d[0].Data {
		if v != a.Data[i] {
			t.Fatalf("dx0 %v, want %v", d[0].Data, a.Data)
		}
	}
	for i, v := range d[1].Data {
		if v != b.Data[i] {
			t.Fatalf("dx1 %v, want %v", d[1].Data, b.Data)
		}
	}
	// Positive and negative axes name the same dimension.
	for _, ax := range []int{2, -2} {
		c := NewConcatenate()
		c.Axis = ax
		out, err := c.Build([]tensor.Shape{{4, 5, 3}, {4, 2, 3}})
		if err != nil || !out.Equal(tensor.Shape{4, 7, 3}) {
			t.Fatalf("axis %d: %v %v", ax, out, err)
		}
	}
}

func TestConcatenateErrors(t *testing.T) {
	c := NewConcatenate()
	_, err := c.Build([]tensor.Shape{{2, 2, 3}, {2, 3, 3}})
	wantErrC(t, err, "all dimensions but axis")
	for _, ax := range []int{0, -4} {
		c = NewConcatenate()
		c.Axis = ax
		_, err = c.Build([]tensor.Shape{{2, 2, 3}, {2, 2, 3}})
		wantErrC(t, err, "batch")
	}
	c = NewConcatenate()
	c.Axis = 4
	_, err = c.Build([]tensor.Shape{{2, 2, 3}, {2, 2, 3}})
	wantErrC(t, err, "out of range")
	_, err = NewConcatenate().Build([]tensor.Shape{{2, 3}, {2, 2, 3}})
	wantErrC(t, err, "ranks")
	_, err = NewConcatenate().Build([]tensor.Shape{{2, 3}})
	wantErrC(t, err, "at least 2")
	ctor, _ := lookup("Concatenate")
	_, err = ctor("concatenate", json.RawMessage(`{"axis": 0}`))
	wantErrC(t, err, "batch")
	c = NewConcatenate()
	c.SetName("concatenate")
	if l := roundTripC(t, c); l.(*Concatenate).Axis != -1 {
		t.Fatal("axis lost")
	}
	l, err := ctor("concatenate", json.RawMessage(`{}`))
	if err != nil || l.(*Concatenate).Axis != -1 {
		t.Fatalf("default axis: %v %v", err, l)
	}
}
