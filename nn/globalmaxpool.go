package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// GlobalMaxPooling2D takes each channel's maximum over all pixels, like
// Keras's GlobalMaxPooling2D: in (N,H,W,C), out (N,C). The gradient goes
// to the first pixel holding the maximum, as MaxPooling2D's goes to its
// window's first winner.
type GlobalMaxPooling2D struct {
	Base

	h, w, c int
	x       *tensor.Tensor // last Forward's input
	out     *tensor.Tensor
	dIn     *tensor.Tensor
	dy      *tensor.Tensor
	arg     []int32 // winning pixel of each (sample, channel), for Backward
	fwdFn   func(lo, hi int)
	bwdFn   func(lo, hi int)
}

// NewGlobalMaxPooling2D returns a GlobalMaxPooling2D layer.
func NewGlobalMaxPooling2D() *GlobalMaxPooling2D { return &GlobalMaxPooling2D{} }

func init() {
	Register("GlobalMaxPooling2D", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "GlobalMaxPooling2D"), err)
		}
		l := NewGlobalMaxPooling2D()
		l.SetName(name)
		return l, nil
	})
}

// Type returns "GlobalMaxPooling2D".
func (l *GlobalMaxPooling2D) Type() string { return "GlobalMaxPooling2D" }

// Config returns an empty configuration ({}).
func (l *GlobalMaxPooling2D) Config() any { return struct{}{} }

// Params returns nil: pooling has no weights.
func (l *GlobalMaxPooling2D) Params() []*Param { return nil }

// Build checks that the input is one (H, W, C) image shape and returns the
// output shape (C).
func (l *GlobalMaxPooling2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	h, w, c, err := spatialImage(spatialLabel(l.Name(), l.Type()), in)
	if err != nil {
		return nil, err
	}
	l.h, l.w, l.c = h, w, c
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return tensor.Shape{c}, nil
}

// Forward takes the maximum of in[0] (N,H,W,C) over its pixels into (N,C),
// recording the winning pixels; images run in parallel.
func (l *GlobalMaxPooling2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, ops.Geom{H: l.h, W: l.w, C: l.c})
	n := x.Shape[0]
	tensor.Ensure(&l.out, n, l.c)
	if cap(l.arg) < n*l.c {
		l.arg = make([]int32, n*l.c)
	}
	l.arg = l.arg[:n*l.c]
	l.x = x
	kernels.ParallelFor(n, max(1, actGrain/max(1, l.h*l.w*l.c)), l.fwdFn)
	return l.out
}

// forwardRange pools images [lo, hi).
func (l *GlobalMaxPooling2D) forwardRange(lo, hi int) {
	hw, ch := l.h*l.w, l.c
	for b := lo; b < hi; b++ {
		x := l.x.Data[b*hw*ch : (b+1)*hw*ch]
		y, arg := l.out.Data[b*ch:(b+1)*ch], l.arg[b*ch:(b+1)*ch]
		copy(y, x[:ch])
		clear(arg)
		for p := 1; p < hw; p++ {
			xr := x[p*ch : (p+1)*ch]
			for k, v := range xr {
				if v > y[k] {
					y[k], arg[k] = v, int32(p)
				}
			}
		}
	}
}

// Backward routes each dOut (N,C) value to its channel's winning pixel of
// the last Forward; dIn is (N,H,W,C), zero elsewhere.
func (l *GlobalMaxPooling2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	x := spatialLastInput(l, l.x)
	n := x.Shape[0]
	if !dOut.Shape.Equal(tensor.Shape{n, l.c}) {
		panic(fmt.Sprintf("%s: Backward with dOut %v, want %v", spatialLabel(l.Name(), l.Type()), dOut.Shape, tensor.Shape{n, l.c}))
	}
	tensor.Ensure(&l.dIn, n, l.h, l.w, l.c)
	l.dy = dOut
	kernels.ParallelFor(n, max(1, actGrain/max(1, l.h*l.w*l.c)), l.bwdFn)
	l.dy = nil
	return []*tensor.Tensor{l.dIn}
}

// backwardRange routes the gradients of images [lo, hi).
func (l *GlobalMaxPooling2D) backwardRange(lo, hi int) {
	hw, ch := l.h*l.w, l.c
	for b := lo; b < hi; b++ {
		d := l.dIn.Data[b*hw*ch : (b+1)*hw*ch]
		clear(d)
		for k, p := range l.arg[b*ch : (b+1)*ch] {
			d[int(p)*ch+k] = l.dy.Data[b*ch+k]
		}
	}
}
