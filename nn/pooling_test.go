package nn

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// poolTieFree wraps a pooling layer for gradient checks: before pooling it
// adds to pixel (h, w) the offset 6*((h%3)*3 + w%3), distinct within any
// window up to 3x3, so that no window holds two values within reach of the
// finite-difference step (no ties, no argmax flips) but for odds of about
// 1e-6. The wrapper's input gradient is the pooling layer's.
type poolTieFree struct {
	Base
	inner Layer
	off   *tensor.Tensor
}

func (p *poolTieFree) Type() string     { return "poolTieFree" }
func (p *poolTieFree) Params() []*Param { return nil }
func (p *poolTieFree) Config() any      { return nil }
func (p *poolTieFree) Build(in []tensor.Shape) (tensor.Shape, error) {
	return p.inner.Build(in)
}
func (p *poolTieFree) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0].Clone()
	if p.off == nil || p.off.Size() != x.Size() {
		p.off = tensor.New(x.Shape...)
		hh, ww, cc := x.Shape[1], x.Shape[2], x.Shape[3]
		for i := range p.off.Data {
			h, w := i/(ww*cc)%hh, i/cc%ww
			p.off.Data[i] = float32(6 * ((h%3)*3 + w%3))
		}
	}
	for i := range x.Data {
		x.Data[i] += p.off.Data[i]
	}
	return p.inner.Forward(c, []*tensor.Tensor{x})
}
func (p *poolTieFree) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	return p.inner.Backward(c, dOut)
}

// poolCases: odd sizes, windows 2x2 and 3x3, strides equal to the window and
// smaller (overlapping windows), valid and same.
var poolCases = []struct {
	h, w, c, p, s int
	padding       string
}{
	{7, 6, 3, 2, 2, "valid"},
	{7, 6, 3, 2, 2, "same"},
	{7, 6, 3, 3, 2, "valid"},
	{7, 6, 3, 3, 2, "same"},
	{5, 5, 2, 3, 1, "same"},
	{6, 7, 2, 2, 1, "valid"},
}

func TestMaxPooling2DGradients(t *testing.T) {
	for _, pc := range poolCases {
		t.Run(fmt.Sprint(pc), func(t *testing.T) {
			l := NewMaxPooling2D(pc.p, pc.p)
			l.Strides, l.Padding = [2]int{pc.s, pc.s}, pc.padding
			gradCheck(t, &poolTieFree{inner: l}, 2, true, 1e-2, 2e-2, tensor.Shape{pc.h, pc.w, pc.c})
		})
	}
}

func TestAveragePooling2DGradients(t *testing.T) {
	for _, pc := range poolCases {
		t.Run(fmt.Sprint(pc), func(t *testing.T) {
			l := NewAveragePooling2D(pc.p, pc.p)
			l.Strides, l.Padding = [2]int{pc.s, pc.s}, pc.padding
			gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{pc.h, pc.w, pc.c})
		})
	}
}

func TestGlobalAveragePooling2DGradients(t *testing.T) {
	gradCheck(t, NewGlobalAveragePooling2D(), 3, true, 1e-2, 2e-2, tensor.Shape{5, 3, 4})
}

// TestPooling2DValues checks small hand-computed cases, including Keras's
// 'same' average that counts only the cells inside the image.
func TestPooling2DValues(t *testing.T) {
	// One 3x3 single-channel image:
	//  1 2 3
	//  4 5 6
	//  7 8 9
	x, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1)
	run := func(l Layer) []float32 {
		if _, err := l.Build([]tensor.Shape{{3, 3, 1}}); err != nil {
			t.Fatal(err)
		}
		return l.Forward(&Context{}, []*tensor.Tensor{x}).Data
	}
	mp := NewMaxPooling2D(2, 2)
	if got := run(mp); fmt.Sprint(got) != "[5]" {
		t.Errorf("max valid %v", got)
	}
	mp.Padding = "same"
	if got := run(mp); fmt.Sprint(got) != "[5 6 8 9]" {
		t.Errorf("max same %v", got)
	}
	ap := NewAveragePooling2D(2, 2)
	ap.Padding = "same"
	// Windows {1,2,4,5}, {3,6}, {7,8}, {9}.
	if got := run(ap); fmt.Sprint(got) != "[3 4.5 7.5 9]" {
		t.Errorf("avg same %v", got)
	}
	dIn := ap.Backward(&Context{}, tensor.New(1, 2, 2, 1).View(1, 2, 2, 1))[0]
	if fmt.Sprint(dIn.Data) != "[0 0 0 0 0 0 0 0 0]" {
		t.Errorf("avg backward of zeros %v", dIn.Data)
	}
	gp := NewGlobalAveragePooling2D()
	if got := run(gp); fmt.Sprint(got) != "[5]" {
		t.Errorf("global avg %v", got)
	}
	// Reuse with another batch size.
	x2 := tensor.New(2, 3, 3, 1)
	copy(x2.Data[9:], x.Data)
	if got := gp.Forward(&Context{}, []*tensor.Tensor{x2}); fmt.Sprint(got.Data) != "[0 5]" || !got.Shape.Equal(tensor.Shape{2, 1}) {
		t.Errorf("global avg batch 2: %v %v", got.Shape, got.Data)
	}
}

func TestPooling2DConfig(t *testing.T) {
	mp := NewMaxPooling2D(3, 2)
	raw, _ := json.Marshal(mp.Config())
	if want := `{"pool_size":[3,2],"strides":[3,2],"padding":"valid"}`; string(raw) != want {
		t.Errorf("config %s, want %s", raw, want)
	}
	mp.Strides, mp.Padding = [2]int{1, 1}, "same"
	convRoundTrip(t, mp)
	ap := NewAveragePooling2D(2, 2)
	ap.Padding = "same"
	convRoundTrip(t, ap)
	convRoundTrip(t, NewGlobalAveragePooling2D())
	ctor, _ := lookup("MaxPooling2D")
	l, err := ctor("m", json.RawMessage(`{"pool_size":[3,3]}`))
	if err != nil || l.(*MaxPooling2D).Strides != [2]int{3, 3} {
		t.Errorf("strides default to the pool size: %v %v", l, err)
	}
	for _, bad := range []string{`{"pool_size":[0,2]}`, `{"padding":"full"}`, `{"strides":[-1,1]}`, `{"size":[2,2]}`} {
		if _, err := ctor("m", json.RawMessage(bad)); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
	mp = NewMaxPooling2D(3, 3)
	mp.SetName("max_pooling2d_1")
	if _, err := mp.Build([]tensor.Shape{{2, 5, 1}}); err == nil || err.Error() != `max_pooling2d_1: input (2, 5, 1) is smaller than pool 3x3 with padding "valid"` {
		t.Errorf("small input: %v", err)
	}
	if _, err := NewGlobalAveragePooling2D().Build([]tensor.Shape{{4, 4}}); err == nil {
		t.Error("global pooling accepted a rank-2 input")
	}
}
