package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/tensor"
)

// Flatten reshapes each sample to one axis, (H, W, C) -> (H*W*C), as Keras's
// Flatten (row-major, so NHWC data keeps its order). Its output and its
// input gradient are views: no data is copied.
type Flatten struct {
	Base

	inShape tensor.Shape // per-sample input shape
	size    int
	out, dx tensor.Tensor // views, reused across steps
	dxs     [1]*tensor.Tensor
}

// NewFlatten returns a Flatten layer.
func NewFlatten() *Flatten { return &Flatten{} }

func init() {
	Register("Flatten", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("Flatten %q: config: %w", name, err)
		}
		f := NewFlatten()
		f.SetName(name)
		return f, nil
	})
}

// Type returns "Flatten".
func (f *Flatten) Type() string { return "Flatten" }

// Config returns an empty configuration.
func (f *Flatten) Config() any { return struct{}{} }

// Params returns nil: Flatten has no weights.
func (f *Flatten) Params() []*Param { return nil }

// Build checks for one input and returns (size of a sample).
func (f *Flatten) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Flatten %q: expects 1 input, got %d", f.Name(), len(in))
	}
	if err := in[0].Valid(); err != nil {
		return nil, fmt.Errorf("Flatten %q: %w", f.Name(), err)
	}
	f.inShape = in[0].Clone()
	f.size = in[0].Size()
	return tensor.Shape{f.size}, nil
}

// Forward returns x viewed as (N, size).
// x (N, ...) -> out (N, size)
func (f *Flatten) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*f.size {
		panic(fmt.Sprintf("Flatten %q: input shape %v, built for %v", f.Name(), x.Shape, f.inShape))
	}
	f.out.Data = x.Data
	f.out.Shape = append(f.out.Shape[:0], n, f.size)
	return &f.out
}

// Backward returns dOut viewed as the input's shape.
// dOut (N, size) -> dx (N, ...)
func (f *Flatten) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	f.dx.Data = dOut.Data
	f.dx.Shape = append(append(f.dx.Shape[:0], dOut.Shape[0]), f.inShape...)
	f.dxs[0] = &f.dx
	return f.dxs[:]
}
