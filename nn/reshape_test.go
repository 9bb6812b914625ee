package nn

import (
	"encoding/json"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestReshapeGradCheck(t *testing.T) {
	gradCheck(t, NewReshape(4, -1), 3, true, 1e-2, 2e-2, tensor.Shape{2, 3, 4})
}

func TestReshapeShapes(t *testing.T) {
	for _, tc := range []struct {
		target []int
		in     tensor.Shape
		want   tensor.Shape
	}{
		{[]int{4, -1}, tensor.Shape{2, 3, 4}, tensor.Shape{4, 6}},
		{[]int{-1}, tensor.Shape{2, 3, 4}, tensor.Shape{24}},
		{[]int{7, 7, 16}, tensor.Shape{784}, tensor.Shape{7, 7, 16}},
		{[]int{1, -1, 2}, tensor.Shape{6}, tensor.Shape{1, 3, 2}},
	} {
		r := NewReshape(tc.target...)
		out, err := r.Build([]tensor.Shape{tc.in})
		if err != nil || !out.Equal(tc.want) {
			t.Fatalf("Reshape%v of %v: %v %v, want %v", tc.target, tc.in, out, err, tc.want)
		}
		x := tensor.New(append([]int{2}, tc.in...)...)
		y := r.Forward(&Context{}, []*tensor.Tensor{x})
		if !y.Shape.Equal(append(tensor.Shape{2}, tc.want...)) || &y.Data[0] != &x.Data[0] {
			t.Fatalf("Forward: shape %v, want a view shaped (2, %v)", y.Shape, tc.want)
		}
	}
}

func TestReshapeErrors(t *testing.T) {
	_, err := NewReshape(5, -1).Build([]tensor.Shape{{2, 3, 4}})
	wantErrC(t, err, "cannot reshape")
	_, err = NewReshape(5, 5).Build([]tensor.Shape{{2, 3, 4}})
	wantErrC(t, err, "cannot reshape")
	_, err = NewReshape(-1, -1).Build([]tensor.Shape{{2, 3, 4}})
	wantErrC(t, err, "more than one -1")
	_, err = NewReshape(0, 24).Build([]tensor.Shape{{2, 3, 4}})
	wantErrC(t, err, "neither positive")
	_, err = NewReshape().Build([]tensor.Shape{{2}})
	wantErrC(t, err, "empty")
	ctor, _ := lookup("Reshape")
	_, err = ctor("reshape", json.RawMessage(`{"target_shape": [-1, -1]}`))
	wantErrC(t, err, "more than one -1")
	r := NewReshape(7, 7, -1)
	r.SetName("reshape")
	roundTripC(t, r)
}
