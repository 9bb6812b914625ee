package nn

import (
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestFlattenGradCheck(t *testing.T) {
	gradCheck(t, NewFlatten(), 3, true, 1e-2, 2e-2, tensor.Shape{2, 3, 4})
}

func TestFlattenView(t *testing.T) {
	f := NewFlatten()
	out, err := f.Build([]tensor.Shape{{2, 3, 4}})
	if err != nil || !out.Equal(tensor.Shape{24}) {
		t.Fatalf("Build: %v %v", out, err)
	}
	x := tensor.New(5, 2, 3, 4)
	y := f.Forward(&Context{}, []*tensor.Tensor{x})
	if !y.Shape.Equal(tensor.Shape{5, 24}) || &y.Data[0] != &x.Data[0] {
		t.Fatalf("out shape %v, shares data %v", y.Shape, &y.Data[0] == &x.Data[0])
	}
	d := f.Backward(&Context{}, y)[0]
	if !d.Shape.Equal(x.Shape) || &d.Data[0] != &x.Data[0] {
		t.Fatalf("dx shape %v, want a view of dOut shaped %v", d.Shape, x.Shape)
	}
	in := []*tensor.Tensor{x}
	if n := testing.AllocsPerRun(10, func() { f.Backward(&Context{}, f.Forward(&Context{}, in)) }); n != 0 && !raceEnabledC() {
		t.Fatalf("%v allocations per step, want 0", n)
	}
	f.SetName("flatten")
	roundTripC(t, f)
	_, err = NewFlatten().Build([]tensor.Shape{{2}, {2}})
	wantErrC(t, err, "1 input")
}
