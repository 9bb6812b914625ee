package nn

import (
	"encoding/json"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestAddGradCheck(t *testing.T) {
	s := tensor.Shape{2, 3, 4}
	gradCheck(t, NewAdd(), 3, true, 1e-2, 2e-2, s, s, s)
}

func TestAddValues(t *testing.T) {
	a := NewAdd()
	if _, err := a.Build([]tensor.Shape{{3}, {3}, {3}}); err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	y, _ := tensor.FromSlice([]float32{10, 20, 30, 40, 50, 60}, 2, 3)
	z, _ := tensor.FromSlice([]float32{100, 200, 300, 400, 500, 600}, 2, 3)
	out := a.Forward(&Context{}, []*tensor.Tensor{x, y, z})
	for i, v := range out.Data {
		if want := x.Data[i] + y.Data[i] + z.Data[i]; v != want {
			t.Fatalf("out[%d] = %v, want %v", i, v, want)
		}
	}
	d := a.Backward(&Context{}, x)
	if len(d) != 3 || d[0] != x || d[1] != x || d[2] != x {
		t.Fatal("Backward must return dOut for each input")
	}
}

func TestAddErrors(t *testing.T) {
	_, err := NewAdd().Build([]tensor.Shape{{3}})
	wantErrC(t, err, "at least 2")
	_, err = NewAdd().Build([]tensor.Shape{{3, 4}, {3, 4}, {4, 3}})
	wantErrC(t, err, "input 2", "(4, 3)")
	ctor, _ := lookup("Add")
	_, err = ctor("add", json.RawMessage(`{"axis": 1}`))
	wantErrC(t, err, "axis")
	a := NewAdd()
	a.SetName("add")
	roundTripC(t, a)
}
