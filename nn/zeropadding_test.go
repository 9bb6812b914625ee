package nn

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestZeroPadding2DGradients(t *testing.T) {
	gradCheck(t, NewZeroPadding2D(1, 2, 0, 3), 2, true, 1e-2, 2e-2, tensor.Shape{3, 4, 2})
}

func TestZeroPadding2D(t *testing.T) {
	l := NewZeroPadding2D(1, 0, 0, 1)
	out, err := l.Build([]tensor.Shape{{2, 2, 1}})
	if err != nil || !out.Equal(tensor.Shape{3, 3, 1}) {
		t.Fatalf("Build: %v %v", out, err)
	}
	x, _ := tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 2, 2, 1)
	if got := l.Forward(&Context{}, []*tensor.Tensor{x}); fmt.Sprint(got.Data) != "[0 0 0 1 2 0 3 4 0]" {
		t.Errorf("padded %v", got.Data)
	}
	d, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1)
	if got := l.Backward(&Context{}, d)[0]; fmt.Sprint(got.Data) != "[4 5 7 8]" {
		t.Errorf("cropped %v", got.Data)
	}
	raw, _ := json.Marshal(l.Config())
	if string(raw) != `{"padding":[1,0,0,1]}` {
		t.Errorf("config %s", raw)
	}
	convRoundTrip(t, l)
	ctor, _ := lookup("ZeroPadding2D")
	if _, err := ctor("z", json.RawMessage(`{"padding":[1,-1,0,0]}`)); err == nil {
		t.Error("negative padding accepted")
	}
}
