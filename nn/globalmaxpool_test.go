package nn

import (
	"fmt"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// The check uses eps 1e-3: finite differences are exact for a maximum
// unless a perturbation changes the winner, and no two values of the
// fixed-seed check lie that close (the check would fail if they did).
func TestGlobalMaxPooling2DGradients(t *testing.T) {
	gradCheck(t, NewGlobalMaxPooling2D(), 3, true, 1e-3, 2e-2, tensor.Shape{5, 3, 4})
}

func TestGlobalMaxPooling2DValues(t *testing.T) {
	// Two channels of a 2x3 image; channel 1 has a tie (7 twice): the
	// gradient goes to the first.
	x, _ := tensor.FromSlice([]float32{
		1, 7, -2, 0, 9, 7,
		4, -5, 3, 2, -1, 6,
	}, 1, 2, 3, 2)
	l := NewGlobalMaxPooling2D()
	out, err := l.Build([]tensor.Shape{{2, 3, 2}})
	if err != nil || !out.Equal(tensor.Shape{2}) {
		t.Fatalf("Build: %v %v", out, err)
	}
	y := l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
	if fmt.Sprint(y.Data) != "[9 7]" || !y.Shape.Equal(tensor.Shape{1, 2}) {
		t.Fatalf("Forward: %v %v, want (1, 2) [9 7]", y.Shape, y.Data)
	}
	dy, _ := tensor.FromSlice([]float32{10, 20}, 1, 2)
	d := l.Backward(&Context{Training: true}, dy)[0]
	if want := "[0 20 0 0 10 0 0 0 0 0 0 0]"; fmt.Sprint(d.Data) != want {
		t.Errorf("Backward: %v, want %v", d.Data, want)
	}
	// Reuse with another batch size.
	x2 := tensor.New(2, 2, 3, 2)
	copy(x2.Data[12:], x.Data)
	if got := l.Forward(&Context{}, []*tensor.Tensor{x2}); fmt.Sprint(got.Data) != "[0 0 9 7]" {
		t.Errorf("batch 2: %v", got.Data)
	}
	if _, err := NewGlobalMaxPooling2D().Build([]tensor.Shape{{4, 4}}); err == nil {
		t.Error("rank-2 input accepted")
	}
	l.SetName("global_max_pooling2d")
	roundTripC(t, l)
	if DefaultName("GlobalMaxPooling2D") != "global_max_pooling2d" {
		t.Errorf("default name %q", DefaultName("GlobalMaxPooling2D"))
	}
}
