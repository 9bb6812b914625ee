package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// Multiply multiplies two or more inputs element-wise, as Keras's Multiply
// layer, broadcasting as Keras does: per-sample shapes of different ranks
// get leading 1s (the axes after the batch), and a dimension of size 1 is
// repeated. The squeeze-and-excitation product x (N,H,W,C) * s (N,1,1,C),
// or s (N,C), is one such broadcast.
type Multiply struct {
	Base

	shapes []tensor.Shape // per-sample input shapes
	shape  tensor.Shape   // per-sample output shape
	idx    [][]int32      // per input: its element read by each output element (nil: the identity)
	ins    []*tensor.Tensor
	out    *tensor.Tensor
	dy     *tensor.Tensor
	dxs    []*tensor.Tensor
	fwdFn  func(lo, hi int)
	bwdFn  func(lo, hi int)
}

// NewMultiply returns a Multiply layer.
func NewMultiply() *Multiply { return &Multiply{} }

func init() {
	Register("Multiply", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("Multiply %q: config: %w", name, err)
		}
		m := NewMultiply()
		m.SetName(name)
		return m, nil
	})
}

// Type returns "Multiply".
func (m *Multiply) Type() string { return "Multiply" }

// Config returns an empty configuration.
func (m *Multiply) Config() any { return struct{}{} }

// Params returns nil: Multiply has no weights.
func (m *Multiply) Params() []*Param { return nil }

// Build checks that there are at least two inputs whose shapes broadcast
// together, and returns the broadcast shape.
func (m *Multiply) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("Multiply %q: expects at least 2 inputs, got %d", m.Name(), len(in))
	}
	out := []int(in[0])
	for i, s := range in[1:] {
		b, err := ops.BroadcastShape(out, s)
		if err != nil {
			return nil, fmt.Errorf("Multiply %q: input %d: %w", m.Name(), i+1, err)
		}
		out = b
	}
	m.shape = tensor.Shape(out).Clone()
	m.shapes = make([]tensor.Shape, len(in))
	m.idx = make([][]int32, len(in))
	for i, s := range in {
		m.shapes[i] = s.Clone()
		m.idx[i] = ops.BroadcastIndex(s, m.shape)
	}
	m.ins = make([]*tensor.Tensor, len(in))
	m.dxs = make([]*tensor.Tensor, len(in))
	m.fwdFn, m.bwdFn = m.forwardRange, m.backwardRange
	return m.shape.Clone(), nil
}

// Forward computes out = in[0] * in[1] * ... (multiplied in input order),
// each input broadcast to the output's shape.
// in[i] (N, ...) -> out (N, ...)
func (m *Multiply) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	if len(in) != len(m.ins) {
		panic(fmt.Sprintf("Multiply %q: %d inputs, built for %d", m.Name(), len(in), len(m.ins)))
	}
	n := in[0].Shape[0]
	for i, x := range in {
		if x.Shape[0] != n || len(x.Data) != n*m.shapes[i].Size() {
			panic(fmt.Sprintf("Multiply %q: input %d has shape %v, built for (N, %v)", m.Name(), i, x.Shape, m.shapes[i]))
		}
	}
	copy(m.ins, in)
	tensor.Ensure(&m.out, append([]int{n}, m.shape...)...)
	kernels.ParallelFor(n, max(1, actGrain/max(1, m.shape.Size())), m.fwdFn)
	return m.out
}

// at returns input i's value read by output element j of sample b.
func (m *Multiply) at(i, b, j int) float32 {
	x := m.ins[i].Data[b*m.shapes[i].Size():]
	if m.idx[i] == nil {
		return x[j]
	}
	return x[m.idx[i][j]]
}

// forwardRange multiplies samples [lo, hi).
func (m *Multiply) forwardRange(lo, hi int) {
	size := m.shape.Size()
	for b := lo; b < hi; b++ {
		y := m.out.Data[b*size : (b+1)*size]
		for j := range y {
			p := m.at(0, b, j)
			for i := 1; i < len(m.ins); i++ {
				p *= m.at(i, b, j)
			}
			y[j] = p
		}
	}
}

// Backward computes each input's gradient: dOut times the product of the
// other inputs, summed over the positions an input is broadcast to (in
// output order).
// dOut (N, ...) -> dx[i] (N, shape of input i)
func (m *Multiply) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	if len(dOut.Data) != n*m.shape.Size() || m.ins[0] == nil || m.ins[0].Shape[0] != n {
		panic(fmt.Sprintf("Multiply %q: Backward with dOut %v after a Forward of batch %d", m.Name(), dOut.Shape, m.ins[0].Shape[0]))
	}
	for i, s := range m.shapes {
		tensor.Ensure(&m.dxs[i], append([]int{n}, s...)...)
	}
	m.dy = dOut
	kernels.ParallelFor(n, max(1, actGrain/max(1, len(m.ins)*m.shape.Size())), m.bwdFn)
	m.dy = nil
	return m.dxs
}

// backwardRange computes the gradients of samples [lo, hi).
func (m *Multiply) backwardRange(lo, hi int) {
	size := m.shape.Size()
	for b := lo; b < hi; b++ {
		dy := m.dy.Data[b*size : (b+1)*size]
		for i, s := range m.shapes {
			dx := m.dxs[i].Data[b*s.Size() : (b+1)*s.Size()]
			clear(dx)
			for j, g := range dy {
				for k := range m.ins {
					if k != i {
						g *= m.at(k, b, j)
					}
				}
				if m.idx[i] == nil {
					dx[j] = g
				} else {
					dx[m.idx[i][j]] += g
				}
			}
		}
	}
}
