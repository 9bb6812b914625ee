package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Add sums two or more inputs of identical shape element-wise, as Keras's
// Add layer.
type Add struct {
	Base

	ins   []*tensor.Tensor // inputs of the last Forward
	out   *tensor.Tensor
	dxs   []*tensor.Tensor
	fwdFn func(lo, hi int)
}

// NewAdd returns an Add layer.
func NewAdd() *Add { return &Add{} }

func init() {
	Register("Add", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("Add %q: config: %w", name, err)
		}
		a := NewAdd()
		a.SetName(name)
		return a, nil
	})
}

// Type returns "Add".
func (a *Add) Type() string { return "Add" }

// Config returns an empty configuration.
func (a *Add) Config() any { return struct{}{} }

// Params returns nil: Add has no weights.
func (a *Add) Params() []*Param { return nil }

// Build checks that there are at least two inputs, all of one shape, which
// is the output's.
func (a *Add) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("Add %q: expects at least 2 inputs, got %d", a.Name(), len(in))
	}
	for i, s := range in[1:] {
		if !s.Equal(in[0]) {
			return nil, fmt.Errorf("Add %q: input %d has shape %v, input 0 has %v; all must match", a.Name(), i+1, s, in[0])
		}
	}
	a.dxs = make([]*tensor.Tensor, len(in))
	a.ins = make([]*tensor.Tensor, len(in))
	a.fwdFn = a.forwardRange
	return in[0].Clone(), nil
}

// Forward computes out = in[0] + in[1] + ... (added in input order).
// in[i] (N, ...) -> out (N, ...)
func (a *Add) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	if len(in) != len(a.ins) {
		panic(fmt.Sprintf("Add %q: %d inputs, built for %d", a.Name(), len(in), len(a.ins)))
	}
	for i, x := range in {
		if len(x.Data) != len(in[0].Data) {
			panic(fmt.Sprintf("Add %q: input %d has shape %v, input 0 has %v", a.Name(), i, x.Shape, in[0].Shape))
		}
	}
	copy(a.ins, in)
	tensor.Ensure(&a.out, in[0].Shape...)
	kernels.ParallelFor(len(a.out.Data), actGrain, a.fwdFn)
	return a.out
}

// forwardRange sums the inputs over elements [lo, hi).
func (a *Add) forwardRange(lo, hi int) {
	y := a.out.Data[lo:hi]
	// Go's +, in AVX-512 where the CPU has it.
	kernels.AddAct(a.ins[0].Data[lo:hi], a.ins[1].Data[lo:hi], y, kernels.ActLinear)
	for _, t := range a.ins[2:] {
		kernels.AddAct(y, t.Data[lo:hi], y, kernels.ActLinear)
	}
}

// Backward returns dOut itself for every input: the sum's gradient.
// dOut (N, ...) -> dx[i] (N, ...), all aliasing dOut
func (a *Add) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	for i := range a.dxs {
		a.dxs[i] = dOut
	}
	return a.dxs
}
