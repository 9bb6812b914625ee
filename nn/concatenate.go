package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Concatenate joins two or more inputs along one axis, as Keras's
// Concatenate. All other dimensions must match.
//
// Axis is counted like Keras, with the batch as axis 0: -1 (the default) is
// the last axis (channels for NHWC images), -2 the one before, and a
// positive axis a counts from the batch, so axis 1 is a sample's first
// dimension. Concatenating along the batch (0, or -(rank+1)) is rejected.
type Concatenate struct {
	Base
	// Axis is the concatenation axis (Keras counting, see the type's doc).
	Axis int

	inShapes []tensor.Shape
	outShape tensor.Shape
	shp      []int // scratch full shape (batch included)
	axis     int   // resolved per-sample axis
	outer    int   // per sample: product of the dimensions before the axis
	blocks   []int // per input: product of the dimensions from the axis on
	row      int   // sum of blocks
	ins      []*tensor.Tensor
	dy       *tensor.Tensor
	out      *tensor.Tensor
	dx       []*tensor.Tensor // owned gradient buffers
	dxs      []*tensor.Tensor // returned slice
	fwdFn    func(lo, hi int)
	bwdFn    func(lo, hi int)
}

// ConcatenateConfig is Concatenate's saved configuration.
type ConcatenateConfig struct {
	Axis int `json:"axis"`
}

// SampleAxis returns the concatenation axis among a sample's dimensions
// (0 is a sample's first dimension), resolved by Build from Axis.
func (c *Concatenate) SampleAxis() int { return c.axis }

// NewConcatenate returns a Concatenate layer along the last axis.
func NewConcatenate() *Concatenate { return &Concatenate{Axis: -1} }

func init() {
	Register("Concatenate", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := ConcatenateConfig{Axis: -1}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Concatenate %q: config: %w", name, err)
		}
		if cfg.Axis == 0 {
			return nil, fmt.Errorf("Concatenate %q: cannot concatenate along the batch axis 0", name)
		}
		c := &Concatenate{Axis: cfg.Axis}
		c.SetName(name)
		return c, nil
	})
}

// Type returns "Concatenate".
func (c *Concatenate) Type() string { return "Concatenate" }

// Config returns a ConcatenateConfig.
func (c *Concatenate) Config() any { return ConcatenateConfig{Axis: c.Axis} }

// Params returns nil: Concatenate has no weights.
func (c *Concatenate) Params() []*Param { return nil }

// Build checks that there are at least two inputs of one rank whose
// dimensions match except along the axis, and returns the joined shape.
func (c *Concatenate) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("Concatenate %q: expects at least 2 inputs, got %d", c.Name(), len(in))
	}
	rank := len(in[0])
	for i, s := range in {
		if len(s) != rank {
			return nil, fmt.Errorf("Concatenate %q: input %d has shape %v, input 0 has %v; ranks must match", c.Name(), i, s, in[0])
		}
		if err := s.Valid(); err != nil {
			return nil, fmt.Errorf("Concatenate %q: %w", c.Name(), err)
		}
	}
	a := c.Axis
	if a < 0 {
		a += rank + 1 // Keras axis with the batch
	}
	if a == 0 {
		return nil, fmt.Errorf("Concatenate %q: cannot concatenate along the batch axis (axis %d)", c.Name(), c.Axis)
	}
	if a < 0 || a > rank {
		return nil, fmt.Errorf("Concatenate %q: axis %d out of range for inputs of shape %v (batch included, valid axes are 1..%d or -%d..-1)", c.Name(), c.Axis, in[0], rank, rank)
	}
	a-- // per-sample axis
	out := in[0].Clone()
	out[a] = 0
	for i, s := range in {
		for d := range s {
			if d != a && s[d] != in[0][d] {
				return nil, fmt.Errorf("Concatenate %q: input %d has shape %v, input 0 has %v; all dimensions but axis %d must match", c.Name(), i, s, in[0], c.Axis)
			}
		}
		out[a] += s[a]
	}
	c.axis = a
	c.outShape = out.Clone()
	c.inShapes = make([]tensor.Shape, len(in))
	c.blocks = make([]int, len(in))
	c.outer = tensor.Shape(in[0][:a]).Size()
	c.row = 0
	for i, s := range in {
		c.inShapes[i] = s.Clone()
		c.blocks[i] = tensor.Shape(s[a:]).Size()
		c.row += c.blocks[i]
	}
	c.ins = make([]*tensor.Tensor, len(in))
	c.dx = make([]*tensor.Tensor, len(in))
	c.dxs = make([]*tensor.Tensor, len(in))
	c.fwdFn = c.forwardRange
	c.bwdFn = c.backwardRange
	return out, nil
}

// Forward copies each input's blocks into the output.
// in[i] (N, ..., Ci, ...) -> out (N, ..., sum Ci, ...)
func (c *Concatenate) Forward(ctx *Context, in []*tensor.Tensor) *tensor.Tensor {
	if len(in) != len(c.ins) {
		panic(fmt.Sprintf("Concatenate %q: %d inputs, built for %d", c.Name(), len(in), len(c.ins)))
	}
	n := in[0].Shape[0]
	for i, x := range in {
		if len(x.Data) != n*c.outer*c.blocks[i] {
			panic(fmt.Sprintf("Concatenate %q: input %d has shape %v, built for %v", c.Name(), i, x.Shape, c.inShapes[i]))
		}
	}
	copy(c.ins, in)
	c.shp = append(append(c.shp[:0], n), c.outShape...)
	out := tensor.Ensure(&c.out, c.shp...)
	kernels.ParallelFor(n*c.outer, max(1, actGrain/c.row), c.fwdFn)
	return out
}

// forwardRange copies outer rows [lo, hi).
func (c *Concatenate) forwardRange(lo, hi int) {
	for o := lo; o < hi; o++ {
		off := o * c.row
		for i, x := range c.ins {
			b := c.blocks[i]
			copy(c.out.Data[off:off+b], x.Data[o*b:(o+1)*b])
			off += b
		}
	}
}

// Backward splits dOut into one gradient per input.
// dOut (N, ..., sum Ci, ...) -> dx[i] (N, ..., Ci, ...)
func (c *Concatenate) Backward(ctx *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	for i := range c.dx {
		c.shp = append(append(c.shp[:0], n), c.inShapes[i]...)
		c.dxs[i] = tensor.Ensure(&c.dx[i], c.shp...)
	}
	c.dy = dOut
	kernels.ParallelFor(n*c.outer, max(1, actGrain/c.row), c.bwdFn)
	c.dy = nil
	return c.dxs
}

// backwardRange copies outer rows [lo, hi) of dOut into the gradients.
func (c *Concatenate) backwardRange(lo, hi int) {
	for o := lo; o < hi; o++ {
		off := o * c.row
		for i, d := range c.dx {
			b := c.blocks[i]
			copy(d.Data[o*b:(o+1)*b], c.dy.Data[off:off+b])
			off += b
		}
	}
}
