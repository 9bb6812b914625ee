package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// MaxPooling2D takes the maximum over each PoolSize window, like Keras's
// MaxPooling2D: in (N,H,W,C), out (N,OH,OW,C). With "same" padding the
// padded cells never win. The exported hyper-parameters may be changed after
// NewMaxPooling2D and before Build.
type MaxPooling2D struct {
	Base
	// PoolSize is the window (height, width).
	PoolSize [2]int
	// Strides is the step (vertical, horizontal); NewMaxPooling2D sets it to
	// PoolSize, as Keras does by default.
	Strides [2]int
	// Padding is "valid" (the default) or "same".
	Padding string

	geom ops.Geom
	x    *tensor.Tensor // last Forward's input
	out  *tensor.Tensor
	dIn  *tensor.Tensor
	arg  []int32 // winning cell of each output, for Backward
}

// AveragePooling2D averages each PoolSize window, like Keras's
// AveragePooling2D: in (N,H,W,C), out (N,OH,OW,C). With "same" padding only
// the cells inside the image are averaged. The exported hyper-parameters may
// be changed after NewAveragePooling2D and before Build.
type AveragePooling2D struct {
	Base
	// PoolSize is the window (height, width).
	PoolSize [2]int
	// Strides is the step (vertical, horizontal); NewAveragePooling2D sets
	// it to PoolSize, as Keras does by default.
	Strides [2]int
	// Padding is "valid" (the default) or "same".
	Padding string

	geom ops.Geom
	x    *tensor.Tensor // last Forward's input
	out  *tensor.Tensor
	dIn  *tensor.Tensor
}

// GlobalAveragePooling2D averages each channel over all pixels, like
// Keras's GlobalAveragePooling2D: in (N,H,W,C), out (N,C).
type GlobalAveragePooling2D struct {
	Base

	h, w, c int
	x       *tensor.Tensor // last Forward's input
	out     *tensor.Tensor
	dIn     *tensor.Tensor
}

// pool2DConfig is the saved configuration of MaxPooling2D and
// AveragePooling2D.
type pool2DConfig struct {
	PoolSize [2]int `json:"pool_size"`
	Strides  [2]int `json:"strides"`
	Padding  string `json:"padding"`
}

// decodePool2D decodes and validates a pooling config; absent strides
// default to the pool size.
func decodePool2D(name, typ string, raw json.RawMessage) (pool2DConfig, error) {
	cfg := pool2DConfig{PoolSize: [2]int{2, 2}, Padding: "valid"}
	label := spatialLabel(name, typ)
	if err := decodeConfig(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: config: %w", label, err)
	}
	if cfg.Strides == [2]int{} {
		cfg.Strides = cfg.PoolSize
	}
	return cfg, spatialCheckWindow(label, "pool_size", cfg.PoolSize, cfg.Strides, cfg.Padding)
}

func init() {
	Register("MaxPooling2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg, err := decodePool2D(name, "MaxPooling2D", raw)
		if err != nil {
			return nil, err
		}
		l := &MaxPooling2D{PoolSize: cfg.PoolSize, Strides: cfg.Strides, Padding: cfg.Padding}
		l.SetName(name)
		return l, nil
	})
	Register("AveragePooling2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg, err := decodePool2D(name, "AveragePooling2D", raw)
		if err != nil {
			return nil, err
		}
		l := &AveragePooling2D{PoolSize: cfg.PoolSize, Strides: cfg.Strides, Padding: cfg.Padding}
		l.SetName(name)
		return l, nil
	})
	Register("GlobalAveragePooling2D", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg struct{}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "GlobalAveragePooling2D"), err)
		}
		l := NewGlobalAveragePooling2D()
		l.SetName(name)
		return l, nil
	})
}

// NewMaxPooling2D returns a MaxPooling2D layer with a ph x pw window,
// strides equal to the window and "valid" padding.
func NewMaxPooling2D(ph, pw int) *MaxPooling2D {
	return &MaxPooling2D{PoolSize: [2]int{ph, pw}, Strides: [2]int{ph, pw}, Padding: "valid"}
}

// Type returns "MaxPooling2D".
func (l *MaxPooling2D) Type() string { return "MaxPooling2D" }

// Config returns the layer's hyper-parameters, e.g. {"pool_size":[2,2],
// "strides":[2,2],"padding":"valid"}.
func (l *MaxPooling2D) Config() any {
	return pool2DConfig{PoolSize: l.PoolSize, Strides: l.Strides, Padding: l.Padding}
}

// Build checks that the input is one (H, W, C) image shape that the window
// fits and returns the output shape (OH, OW, C).
func (l *MaxPooling2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	g, err := buildPool2D(spatialLabel(l.Name(), l.Type()), in, l.PoolSize, l.Strides, l.Padding)
	if err != nil {
		return nil, err
	}
	l.geom = g
	return tensor.Shape{g.OH, g.OW, g.C}, nil
}

// buildPool2D validates a pooling layer's window and input.
func buildPool2D(label string, in []tensor.Shape, size, strides [2]int, padding string) (ops.Geom, error) {
	if err := spatialCheckWindow(label, "pool_size", size, strides, padding); err != nil {
		return ops.Geom{}, err
	}
	return spatialGeom(label, in, size, strides, padding, "pool")
}

// Params returns nil: pooling has no weights.
func (l *MaxPooling2D) Params() []*Param { return nil }

// Forward computes the window maxima of in[0] (N,H,W,C) into (N,OH,OW,C),
// recording the winning cells.
func (l *MaxPooling2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, l.geom)
	g := l.geom.WithBatch(x.Shape[0])
	out := tensor.Ensure(&l.out, g.N, g.OH, g.OW, g.C)
	if n := out.Size(); cap(l.arg) < n {
		l.arg = make([]int32, n)
	}
	l.arg = l.arg[:out.Size()]
	ops.MaxPoolForward(g, x.Data, out.Data, l.arg)
	l.x = x
	return out
}

// Backward routes each dOut (N,OH,OW,C) value to the cell that won its
// window in the last Forward; dIn is (N,H,W,C).
func (l *MaxPooling2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	x := spatialLastInput(l, l.x)
	g := l.geom.WithBatch(x.Shape[0])
	spatialCheckGrad(l, dOut, g.N, g.OH, g.OW, g.C)
	dIn := tensor.Ensure(&l.dIn, g.N, g.H, g.W, g.C)
	ops.MaxPoolBackward(g, dOut.Data, l.arg, dIn.Data)
	return []*tensor.Tensor{dIn}
}

// NewAveragePooling2D returns an AveragePooling2D layer with a ph x pw
// window, strides equal to the window and "valid" padding.
func NewAveragePooling2D(ph, pw int) *AveragePooling2D {
	return &AveragePooling2D{PoolSize: [2]int{ph, pw}, Strides: [2]int{ph, pw}, Padding: "valid"}
}

// Type returns "AveragePooling2D".
func (l *AveragePooling2D) Type() string { return "AveragePooling2D" }

// Config returns the layer's hyper-parameters, e.g. {"pool_size":[2,2],
// "strides":[2,2],"padding":"valid"}.
func (l *AveragePooling2D) Config() any {
	return pool2DConfig{PoolSize: l.PoolSize, Strides: l.Strides, Padding: l.Padding}
}

// Build checks that the input is one (H, W, C) image shape that the window
// fits and returns the output shape (OH, OW, C).
func (l *AveragePooling2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	g, err := buildPool2D(spatialLabel(l.Name(), l.Type()), in, l.PoolSize, l.Strides, l.Padding)
	if err != nil {
		return nil, err
	}
	l.geom = g
	return tensor.Shape{g.OH, g.OW, g.C}, nil
}

// Params returns nil: pooling has no weights.
func (l *AveragePooling2D) Params() []*Param { return nil }

// Forward computes the window means of in[0] (N,H,W,C) into (N,OH,OW,C).
func (l *AveragePooling2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, l.geom)
	g := l.geom.WithBatch(x.Shape[0])
	out := tensor.Ensure(&l.out, g.N, g.OH, g.OW, g.C)
	ops.AvgPoolForward(g, x.Data, out.Data)
	l.x = x
	return out
}

// Backward spreads each dOut (N,OH,OW,C) value evenly over its window's
// cells inside the image; dIn is (N,H,W,C).
func (l *AveragePooling2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	x := spatialLastInput(l, l.x)
	g := l.geom.WithBatch(x.Shape[0])
	spatialCheckGrad(l, dOut, g.N, g.OH, g.OW, g.C)
	dIn := tensor.Ensure(&l.dIn, g.N, g.H, g.W, g.C)
	ops.AvgPoolBackward(g, dOut.Data, dIn.Data)
	return []*tensor.Tensor{dIn}
}

// NewGlobalAveragePooling2D returns a GlobalAveragePooling2D layer.
func NewGlobalAveragePooling2D() *GlobalAveragePooling2D { return &GlobalAveragePooling2D{} }

// Type returns "GlobalAveragePooling2D".
func (l *GlobalAveragePooling2D) Type() string { return "GlobalAveragePooling2D" }

// Config returns an empty configuration ({}).
func (l *GlobalAveragePooling2D) Config() any { return struct{}{} }

// Build checks that the input is one (H, W, C) image shape and returns the
// output shape (C).
func (l *GlobalAveragePooling2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	h, w, c, err := spatialImage(spatialLabel(l.Name(), l.Type()), in)
	if err != nil {
		return nil, err
	}
	l.h, l.w, l.c = h, w, c
	return tensor.Shape{c}, nil
}

// Params returns nil: pooling has no weights.
func (l *GlobalAveragePooling2D) Params() []*Param { return nil }

// Forward averages in[0] (N,H,W,C) over its pixels into (N,C).
func (l *GlobalAveragePooling2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, ops.Geom{H: l.h, W: l.w, C: l.c})
	n := x.Shape[0]
	out := tensor.Ensure(&l.out, n, l.c)
	ops.GlobalAvgPoolForward(n, l.h*l.w, l.c, x.Data, out.Data)
	l.x = x
	return out
}

// Backward spreads dOut (N,C) evenly over the pixels: dIn (N,H,W,C).
func (l *GlobalAveragePooling2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	x := spatialLastInput(l, l.x)
	n := x.Shape[0]
	if !dOut.Shape.Equal(tensor.Shape{n, l.c}) {
		panic(fmt.Sprintf("%s: Backward with dOut %v, want %v", spatialLabel(l.Name(), l.Type()), dOut.Shape, tensor.Shape{n, l.c}))
	}
	dIn := tensor.Ensure(&l.dIn, n, l.h, l.w, l.c)
	ops.GlobalAvgPoolBackward(n, l.h*l.w, l.c, dOut.Data, dIn.Data)
	return []*tensor.Tensor{dIn}
}
