package quantize

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// InputConfig is QuantizeInput's saved configuration.
type InputConfig struct {
	Quantizer Spec `json:"quantizer"`
}

// QuantizeInput fake-quantizes a model input (Model inserts one after every
// input, with the scheme's AllValues quantizer): the int8 model's input
// scale and zero point come from it.
type QuantizeInput struct {
	nn.Base
	// Spec configures the quantizer.
	Spec Spec

	q       Quantizer
	x       *tensor.Tensor
	out, dx *tensor.Tensor
	dxs     [1]*tensor.Tensor
}

func init() {
	nn.Register("QuantizeInput", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg InputConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeInput %q: config: %w", name, err)
		}
		l, err := NewQuantizeInput(cfg.Quantizer)
		if err != nil {
			return nil, fmt.Errorf("QuantizeInput %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeInput returns a QuantizeInput layer with the given quantizer.
func NewQuantizeInput(s Spec) (*QuantizeInput, error) {
	q, err := s.New()
	if err != nil {
		return nil, err
	}
	return &QuantizeInput{Spec: s, q: q}, nil
}

// Type returns "QuantizeInput".
func (l *QuantizeInput) Type() string { return "QuantizeInput" }

// Config returns an InputConfig.
func (l *QuantizeInput) Config() any { return InputConfig{Quantizer: l.Spec} }

// Build checks for one input and builds the quantizer.
func (l *QuantizeInput) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("QuantizeInput %q: expects 1 input, got %d", l.Name(), len(in))
	}
	if err := l.q.Build("input_quant", in[0]); err != nil {
		return nil, fmt.Errorf("QuantizeInput %q: %w", l.Name(), err)
	}
	return in[0].Clone(), nil
}

// Params returns the quantizer's state.
func (l *QuantizeInput) Params() []*nn.Param { return l.q.Params() }

// Quantizer returns the input's quantizer.
func (l *QuantizeInput) Quantizer() Quantizer { return l.q }

// Forward fake-quantizes the input.
// x (N, ...) -> out (N, ...)
func (l *QuantizeInput) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	l.x = in[0]
	out := tensor.Ensure(&l.out, in[0].Shape...)
	l.q.Forward(c, in[0], out)
	return out
}

// Backward passes the gradient straight through inside the range.
// dOut (N, ...) -> dx (N, ...)
func (l *QuantizeInput) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	dx := tensor.Ensure(&l.dx, dOut.Shape...)
	l.q.Backward(c, l.x, dOut, dx)
	l.dxs[0] = dx
	return l.dxs[:]
}
