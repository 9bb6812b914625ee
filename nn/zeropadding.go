package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// ZeroPadding2D surrounds each image with zeros, like Keras's
// ZeroPadding2D: in (N,H,W,C), out (N, H+top+bottom, W+left+right, C).
type ZeroPadding2D struct {
	Base
	// Padding is the number of zero rows/columns added on the top, bottom,
	// left and right, in that order.
	Padding [4]int

	h, w, c int
	n       int // last Forward's batch
	out     *tensor.Tensor
	dIn     *tensor.Tensor
}

// zeroPaddingConfig is ZeroPadding2D's saved configuration:
// {"padding":[top,bottom,left,right]}.
type zeroPaddingConfig struct {
	Padding [4]int `json:"padding"`
}

func init() {
	Register("ZeroPadding2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := zeroPaddingConfig{Padding: [4]int{1, 1, 1, 1}}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "ZeroPadding2D"), err)
		}
		p := cfg.Padding
		l := NewZeroPadding2D(p[0], p[1], p[2], p[3])
		l.SetName(name)
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// NewZeroPadding2D returns a ZeroPadding2D layer adding the given numbers
// of zero rows (top, bottom) and columns (left, right).
func NewZeroPadding2D(top, bottom, left, right int) *ZeroPadding2D {
	return &ZeroPadding2D{Padding: [4]int{top, bottom, left, right}}
}

// Type returns "ZeroPadding2D".
func (l *ZeroPadding2D) Type() string { return "ZeroPadding2D" }

// Config returns the layer's hyper-parameters, e.g. {"padding":[1,1,2,2]}.
func (l *ZeroPadding2D) Config() any { return zeroPaddingConfig{Padding: l.Padding} }

// check validates the padding.
func (l *ZeroPadding2D) check() error {
	for _, p := range l.Padding {
		if p < 0 || p > bounds.MaxExtent {
			return fmt.Errorf("%s: padding must be from 0 to %d, got %v", spatialLabel(l.Name(), l.Type()), bounds.MaxExtent, l.Padding)
		}
	}
	return nil
}

// Build checks that the input is one (H, W, C) image shape and returns the
// padded shape.
func (l *ZeroPadding2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	h, w, c, err := spatialImage(spatialLabel(l.Name(), l.Type()), in)
	if err != nil {
		return nil, err
	}
	l.h, l.w, l.c = h, w, c
	p := l.Padding
	return tensor.Shape{h + p[0] + p[1], w + p[2] + p[3], c}, nil
}

// Params returns nil: padding has no weights.
func (l *ZeroPadding2D) Params() []*Param { return nil }

// Forward pads in[0] (N,H,W,C) into (N, H+top+bottom, W+left+right, C).
func (l *ZeroPadding2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, ops.Geom{H: l.h, W: l.w, C: l.c})
	p := l.Padding
	l.n = x.Shape[0]
	out := tensor.Ensure(&l.out, l.n, l.h+p[0]+p[1], l.w+p[2]+p[3], l.c)
	ops.ZeroPadForward(l.n, l.h, l.w, l.c, p[0], p[1], p[2], p[3], x.Data, out.Data)
	return out
}

// Backward crops dOut back to the input's (N,H,W,C).
func (l *ZeroPadding2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	p := l.Padding
	spatialCheckGrad(l, dOut, l.n, l.h+p[0]+p[1], l.w+p[2]+p[3], l.c)
	dIn := tensor.Ensure(&l.dIn, l.n, l.h, l.w, l.c)
	ops.ZeroPadBackward(l.n, l.h, l.w, l.c, p[0], p[1], p[2], p[3], dOut.Data, dIn.Data)
	return []*tensor.Tensor{dIn}
}
