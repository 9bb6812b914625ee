package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// Bidirectional runs a recurrent layer (LSTM, GRU or SimpleRNN) over the
// sequence forwards and a copy of it backwards, like Keras's Bidirectional
// with merge_mode "concat": in (N, T, F), out (N, T, 2U) with
// ReturnSequences, else (N, 2U), the forward layer's features first. With
// ReturnSequences the backward layer's outputs are put back in input order
// before the concatenation, and padding steps (Masking) output zeros, as in
// Keras.
//
// The backward layer has the forward one's configuration with GoBackwards
// flipped; each has its own weights, saved as "forward/kernel",
// "backward/kernel", ...
type Bidirectional struct {
	Base
	// ForwardLayer and BackwardLayer are the two directions;
	// NewBidirectional (and loading) makes BackwardLayer from ForwardLayer.
	ForwardLayer, BackwardLayer Layer

	fwd, bwd *recurrent
	t, u     int
	seq      bool
	params   []*Param
	out, dx  *tensor.Tensor
	dF, dB   *tensor.Tensor
	dxs      [1]*tensor.Tensor
}

// BidirectionalConfig is Bidirectional's saved configuration: the wrapped
// layer's type and configuration, and the merge mode ("concat").
type BidirectionalConfig struct {
	Layer     WrappedLayer `json:"layer"`
	MergeMode string       `json:"merge_mode"`
}

// WrappedLayer is a layer's type and configuration inside another layer's
// configuration.
type WrappedLayer struct {
	ClassName string          `json:"class_name"`
	Config    json.RawMessage `json:"config"`
}

// NewBidirectional wraps a recurrent layer (*LSTM, *GRU or *SimpleRNN, not
// built yet). The layer is the forward direction; the backward direction
// is a new layer with its configuration and GoBackwards flipped.
func NewBidirectional(layer Layer) (*Bidirectional, error) {
	o, ok := recurrentOptions(layer)
	if !ok {
		t := "nil"
		if layer != nil {
			t = layer.Type()
		}
		return nil, fmt.Errorf("nn: Bidirectional wraps an LSTM, GRU or SimpleRNN, got %s", t)
	}
	if len(layer.Params()) > 0 {
		return nil, fmt.Errorf("nn: Bidirectional: layer %s is already built", describe(layer))
	}
	bo := *o
	bo.GoBackwards = !bo.GoBackwards
	var back Layer
	switch layer.(type) {
	case *LSTM:
		back = &LSTM{RecurrentOptions: bo}
	case *GRU:
		back = &GRU{RecurrentOptions: bo}
	default:
		back = &SimpleRNN{RecurrentOptions: bo}
	}
	return &Bidirectional{ForwardLayer: layer, BackwardLayer: back}, nil
}

// recurrentOptions returns the options and core of a recurrent layer.
func recurrentOptions(l Layer) (*RecurrentOptions, bool) {
	switch l := l.(type) {
	case *LSTM:
		if l != nil {
			return &l.RecurrentOptions, true
		}
	case *GRU:
		if l != nil {
			return &l.RecurrentOptions, true
		}
	case *SimpleRNN:
		if l != nil {
			return &l.RecurrentOptions, true
		}
	}
	return nil, false
}

// recurrentCore returns a recurrent layer's shared core.
func recurrentCore(l Layer) *recurrent {
	switch l := l.(type) {
	case *LSTM:
		return &l.core
	case *GRU:
		return &l.core
	case *SimpleRNN:
		return &l.core
	}
	return nil
}

func init() {
	Register("Bidirectional", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg BidirectionalConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Bidirectional %q: config: %w", name, err)
		}
		if cfg.MergeMode != "concat" {
			return nil, fmt.Errorf("Bidirectional %q: merge_mode %q, only \"concat\" is supported", name, cfg.MergeMode)
		}
		switch cfg.Layer.ClassName {
		case "LSTM", "GRU", "SimpleRNN":
		default:
			return nil, fmt.Errorf("Bidirectional %q: wraps an LSTM, GRU or SimpleRNN, got %q", name, cfg.Layer.ClassName)
		}
		inner, err := NewLayer(cfg.Layer.ClassName, "forward", cfg.Layer.Config)
		if err != nil {
			return nil, fmt.Errorf("Bidirectional %q: %w", name, err)
		}
		b, err := NewBidirectional(inner)
		if err != nil {
			return nil, fmt.Errorf("Bidirectional %q: %w", name, err)
		}
		b.SetName(name)
		return b, nil
	})
}

// Type returns "Bidirectional".
func (b *Bidirectional) Type() string { return "Bidirectional" }

// Config returns a BidirectionalConfig.
func (b *Bidirectional) Config() any {
	cfg, _ := json.Marshal(b.ForwardLayer.Config())
	return BidirectionalConfig{Layer: WrappedLayer{ClassName: b.ForwardLayer.Type(), Config: cfg}, MergeMode: "concat"}
}

// Params returns the forward layer's parameters, then the backward
// layer's, named "forward/..." and "backward/...".
func (b *Bidirectional) Params() []*Param { return b.params }

// ParamCount implements ParamCounter: twice the wrapped layer's.
func (b *Bidirectional) ParamCount(in []tensor.Shape) int64 {
	return mulCap(2, ParamCountOf(b.ForwardLayer, in))
}

// Cost implements Coster: both directions and the concatenation.
func (b *Bidirectional) Cost(in []tensor.Shape, out tensor.Shape) Cost {
	half := out.Clone()
	half[len(half)-1] /= 2
	f, k := b.fwd.cost(half), b.bwd.cost(half)
	ov := values(out)
	return Cost{Work: addCap(f.Work, k.Work, ov), Bytes: addCap(f.Bytes, k.Bytes, mulCap(4, ov))}
}

// Build builds both directions on the input (T, F); the output is
// (T, 2U) or (2U).
func (b *Bidirectional) Build(in []tensor.Shape) (tensor.Shape, error) {
	o, ok := recurrentOptions(b.ForwardLayer)
	bo, ok2 := recurrentOptions(b.BackwardLayer)
	if !ok || !ok2 {
		return nil, fmt.Errorf("Bidirectional %q: wraps an LSTM, GRU or SimpleRNN", b.Name())
	}
	if bo.Units != o.Units || bo.ReturnSequences != o.ReturnSequences || bo.Masking != o.Masking {
		return nil, fmt.Errorf("Bidirectional %q: the backward layer's units, return_sequences and masking must be the forward layer's", b.Name())
	}
	b.fwd, b.bwd = recurrentCore(b.ForwardLayer), recurrentCore(b.BackwardLayer)
	b.ForwardLayer.SetName(b.Name() + "/forward")
	b.BackwardLayer.SetName(b.Name() + "/backward")
	b.fwd.zeroMasked, b.bwd.zeroMasked = o.ReturnSequences, o.ReturnSequences
	if _, err := b.ForwardLayer.Build(in); err != nil {
		return nil, err
	}
	if _, err := b.BackwardLayer.Build(in); err != nil {
		return nil, err
	}
	b.t, b.u, b.seq = in[0][0], o.Units, o.ReturnSequences
	b.params = b.params[:0]
	for _, side := range []struct {
		prefix string
		l      Layer
	}{{"forward/", b.ForwardLayer}, {"backward/", b.BackwardLayer}} {
		for _, p := range side.l.Params() {
			b.params = append(b.params, &Param{Name: side.prefix + p.Name, Value: p.Value, Grad: p.Grad, Trainable: p.Trainable})
		}
	}
	if b.seq {
		return tensor.Shape{b.t, 2 * b.u}, nil
	}
	return tensor.Shape{2 * b.u}, nil
}

// InitWeights initialises both directions, the forward one first, from r.
func (b *Bidirectional) InitWeights(r *rand.Rand) {
	b.ForwardLayer.(Initializer).InitWeights(r)
	b.BackwardLayer.(Initializer).InitWeights(r)
}

// Forward runs both directions and concatenates their outputs.
// x (N, T, F) -> (N, T, 2U) or (N, 2U)
func (b *Bidirectional) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	f := b.ForwardLayer.Forward(c, in)
	k := b.BackwardLayer.Forward(c, in)
	n, u := in[0].Shape[0], b.u
	steps := 1
	if b.seq {
		steps = b.t
	}
	var out *tensor.Tensor
	if b.seq {
		out = tensor.Ensure(&b.out, n, steps, 2*u)
	} else {
		out = tensor.Ensure(&b.out, n, 2*u)
	}
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			o := out.Data[(i*steps+s)*2*u : (i*steps+s+1)*2*u]
			copy(o[:u], f.Data[(i*steps+s)*u:(i*steps+s+1)*u])
			r := steps - 1 - s // the backward layer's step that read input s
			copy(o[u:], k.Data[(i*steps+r)*u:(i*steps+r+1)*u])
		}
	}
	return out
}

// Backward splits the gradient between the directions and adds their
// input gradients.
// dOut (N, T, 2U) or (N, 2U) -> dx (N, T, F)
func (b *Bidirectional) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n, u := dOut.Shape[0], b.u
	steps := 1
	shape := []int{n, u}
	if b.seq {
		steps = b.t
		shape = []int{n, steps, u}
	}
	dF := tensor.Ensure(&b.dF, shape...)
	dB := tensor.Ensure(&b.dB, shape...)
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			g := dOut.Data[(i*steps+s)*2*u : (i*steps+s+1)*2*u]
			r := steps - 1 - s
			copy(dF.Data[(i*steps+s)*u:(i*steps+s+1)*u], g[:u])
			copy(dB.Data[(i*steps+r)*u:(i*steps+r+1)*u], g[u:])
		}
	}
	xf := b.ForwardLayer.Backward(c, dF)[0]
	xb := b.BackwardLayer.Backward(c, dB)[0]
	dx := tensor.Ensure(&b.dx, xf.Shape...)
	for i, v := range xf.Data {
		dx.Data[i] = v + xb.Data[i]
	}
	b.dxs[0] = dx
	return b.dxs[:]
}
