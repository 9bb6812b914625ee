package quantize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// LayerSpec is a layer's saved form: its registered type and its config.
type LayerSpec struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// WrapperConfig is QuantizeWrapper's saved configuration: the wrapped
// layer, the weights quantized and the output quantizer (null for none).
type WrapperConfig struct {
	Layer   LayerSpec    `json:"layer"`
	Weights []WeightSpec `json:"weights"`
	Output  *Spec        `json:"output"`
}

// QuantizeWrapper is a layer with fake quantization around it (tfmot's
// QuantizeWrapper): before the wrapped layer runs, each quantized weight is
// replaced by its fake-quantized copy (the float weight stays the trained
// parameter, and its gradient passes straight through), and the output is
// fake-quantized. Its parameters are the wrapped layer's (same names) and
// the quantizers' state ("<param>_quant_min", "output_quant_max", ...).
type QuantizeWrapper struct {
	nn.Base
	// Layer is the wrapped layer; it has the wrapper's name.
	Layer nn.Layer
	// WeightSpecs and OutputSpec configure the quantizers.
	WeightSpecs []WeightSpec
	OutputSpec  *Spec

	wq      []weightQuant
	oq      Quantizer
	params  []*nn.Param
	innerY  *tensor.Tensor // the wrapped layer's last output
	out, dy *tensor.Tensor

	shared   Quantizer // the consuming Concatenate's output quantizer when oq is nil (set by Link)
	next     Quantizer // the fused activation's output quantizer when oq and shared are nil (set by Link)
	nextAct  string    // and that activation ("relu", "relu6")
	ex       *exact    // bit-exact inference of a weighted layer (set by Link), nil if not linked
	eo       exactOp   // bit-exact inference of Add, Concatenate, Multiply or a table activation (set by Link), nil if not linked
	zeroBias *tensor.Tensor
	ictx     nn.Context
	ins      [1]*tensor.Tensor
}

// weightQuant is one quantized weight: the parameter, its quantizer and the
// buffer of its fake-quantized value.
type weightQuant struct {
	p *nn.Param
	q Quantizer
	v *tensor.Tensor
}

func init() {
	nn.Register("QuantizeWrapper", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg WrapperConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: config: %w", name, err)
		}
		inner, err := nn.NewLayer(cfg.Layer.Type, name, cfg.Layer.Config)
		if err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: %w", name, err)
		}
		return NewQuantizeWrapper(inner, cfg.Weights, cfg.Output)
	})
}

// strictDecode unmarshals JSON rejecting unknown fields.
func strictDecode(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// NewQuantizeWrapper wraps an unbuilt layer. It checks the specs; the
// weights are checked at Build.
func NewQuantizeWrapper(inner nn.Layer, weights []WeightSpec, output *Spec) (*QuantizeWrapper, error) {
	for _, w := range weights {
		if err := w.Spec.Validate(); err != nil {
			return nil, fmt.Errorf("layer %q weight %q: %w", inner.Name(), w.Param, err)
		}
	}
	if output != nil {
		if err := output.Validate(); err != nil {
			return nil, fmt.Errorf("layer %q output: %w", inner.Name(), err)
		}
	}
	w := &QuantizeWrapper{Layer: inner, WeightSpecs: weights, OutputSpec: output}
	w.SetName(inner.Name())
	return w, nil
}

// SetName renames the wrapper and the wrapped layer.
func (w *QuantizeWrapper) SetName(name string) {
	w.Base.SetName(name)
	w.Layer.SetName(name)
}

// Type returns "QuantizeWrapper".
func (w *QuantizeWrapper) Type() string { return "QuantizeWrapper" }

// Config returns a WrapperConfig.
func (w *QuantizeWrapper) Config() any {
	raw, err := json.Marshal(w.Layer.Config())
	if err != nil {
		panic(fmt.Sprintf("QuantizeWrapper %q: wrapped config: %v", w.Name(), err))
	}
	return WrapperConfig{Layer: LayerSpec{Type: w.Layer.Type(), Config: raw}, Weights: w.WeightSpecs, Output: w.OutputSpec}
}

// Build builds the wrapped layer and the quantizers.
func (w *QuantizeWrapper) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := w.Layer.Build(in)
	if err != nil {
		return nil, err
	}
	byName := map[string]*nn.Param{}
	for _, p := range w.Layer.Params() {
		byName[p.Name] = p
	}
	w.params = append([]*nn.Param(nil), w.Layer.Params()...)
	w.wq = w.wq[:0]
	for _, ws := range w.WeightSpecs {
		p := byName[ws.Param]
		if p == nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: the %s layer has no parameter %q to quantize", w.Name(), w.Layer.Type(), ws.Param)
		}
		q, err := ws.Spec.New()
		if err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: weight %q: %w", w.Name(), ws.Param, err)
		}
		if err := q.Build(ws.Param+"_quant", p.Value.Shape); err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: weight %q: %w", w.Name(), ws.Param, err)
		}
		w.wq = append(w.wq, weightQuant{p: p, q: q, v: tensor.New(p.Value.Shape...)})
		w.params = append(w.params, q.Params()...)
	}
	w.oq = nil
	if w.OutputSpec != nil {
		q, err := w.OutputSpec.New()
		if err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: output: %w", w.Name(), err)
		}
		if err := q.Build("output_quant", out); err != nil {
			return nil, fmt.Errorf("QuantizeWrapper %q: output: %w", w.Name(), err)
		}
		w.oq = q
		w.params = append(w.params, q.Params()...)
	}
	return out, nil
}

// Params returns the wrapped layer's parameters, then the quantizers' state.
func (w *QuantizeWrapper) Params() []*nn.Param { return w.params }

// InitWeights initialises the wrapped layer's weights.
func (w *QuantizeWrapper) InitWeights(r *rand.Rand) {
	if ini, ok := w.Layer.(nn.Initializer); ok {
		ini.InitWeights(r)
	}
}

// WeightQuantizer returns the quantizer of the named parameter, or nil.
func (w *QuantizeWrapper) WeightQuantizer(param string) Quantizer {
	for _, x := range w.wq {
		if x.p.Name == param {
			return x.q
		}
	}
	return nil
}

// OutputQuant returns the output quantizer, nil if the output is not
// quantized. A layer whose only consumer is a quantized Concatenate has no
// quantizer of its own (fake quant sits after the Concatenate only); once
// linked (Link) it reports the Concatenate's, whose range its output shares
// in the integer model.
func (w *QuantizeWrapper) OutputQuant() Quantizer {
	if w.oq == nil {
		return w.shared
	}
	return w.oq
}

// exactOut returns the quantizer and fused activation whose codes the
// exact inference writes: the output quantizer (its own or a shared one),
// else the quantized ReLU/ReLU6 after the layer that the integer engine
// fuses into its op (see Link).
func (w *QuantizeWrapper) exactOut() (Quantizer, string) {
	if q := w.OutputQuant(); q != nil {
		return q, ""
	}
	return w.next, w.nextAct
}

// swap exchanges every quantized parameter's value with its fake-quantized copy
// (a toggle: called in pairs around the wrapped layer's passes).
func (w *QuantizeWrapper) swap() {
	for i := range w.wq {
		x := &w.wq[i]
		x.p.Value, x.v = x.v, x.p.Value
	}
}

// Forward fake-quantizes the weights, runs the wrapped layer with them and
// fake-quantizes its output. In inference mode a linked Conv2D,
// DepthwiseConv2D, Dense, Add, Concatenate, Multiply or table activation
// computes the integer engine's result exactly (see Link).
func (w *QuantizeWrapper) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	for i := range w.wq {
		x := &w.wq[i]
		x.q.Forward(c, x.p.Value, x.v)
	}
	if !c.Training && w.eo != nil {
		q, act := w.exactOut()
		if y := w.eo.forward(in, q, act, &w.out); y != nil {
			return y
		}
	}
	if !c.Training && w.ex != nil {
		kp, bp := w.kernelParam(), w.biasParam()
		for i := range w.wq {
			if x := &w.wq[i]; x.p == kp {
				var b []float32
				if bp != nil {
					b = bp.Value.Data
				}
				q, act := w.exactOut()
				if y := w.ex.forward(in[0], x.v, x.q, b, q, act, &w.out); y != nil {
					return y
				}
			}
		}
	}
	w.swap()
	y := w.Layer.Forward(c, in)
	w.swap()
	if w.oq == nil {
		return y
	}
	w.innerY = y
	out := tensor.Ensure(&w.out, y.Shape...)
	w.oq.Forward(c, y, out)
	return out
}

// Backward passes dOut straight through the output fake quant, runs the
// wrapped layer's Backward with the fake-quantized weights, and passes each
// weight gradient straight through its fake quant (LSQ: also the step
// size's gradient).
func (w *QuantizeWrapper) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	d := dOut
	if w.oq != nil {
		d = tensor.Ensure(&w.dy, dOut.Shape...)
		w.oq.Backward(c, w.innerY, dOut, d)
	}
	w.swap()
	dIn := w.Layer.Backward(c, d)
	w.swap()
	for i := range w.wq {
		x := &w.wq[i]
		if x.p.Grad != nil {
			x.q.Backward(c, x.p.Value, x.p.Grad, x.p.Grad)
		}
	}
	return dIn
}

// kernelParam returns the kernel of a wrapped Conv2D, DepthwiseConv2D,
// Dense or Conv1D (nil for other layers).
func (w *QuantizeWrapper) kernelParam() *nn.Param {
	switch x := w.Layer.(type) {
	case *nn.Conv2D:
		return x.Kernel
	case *nn.DepthwiseConv2D:
		return x.DepthwiseKernel
	case *nn.Dense:
		return x.Kernel
	case *nn.Conv1D:
		return x.Kernel
	}
	return nil
}

// biasParam returns the bias of a wrapped Conv2D, DepthwiseConv2D, Dense
// or Conv1D (nil if none).
func (w *QuantizeWrapper) biasParam() *nn.Param {
	switch x := w.Layer.(type) {
	case *nn.Conv2D:
		return x.Bias
	case *nn.DepthwiseConv2D:
		return x.Bias
	case *nn.Dense:
		return x.Bias
	case *nn.Conv1D:
		return x.Bias
	}
	return nil
}

// runInner runs the wrapped layer in inference mode on x with kernel k and
// a zero bias (the exact inference's integer-valued pass).
func (w *QuantizeWrapper) runInner(x, k *tensor.Tensor) *tensor.Tensor {
	kp, bp := w.kernelParam(), w.biasParam()
	kv := kp.Value
	kp.Value = k
	var bv *tensor.Tensor
	if bp != nil {
		bv = bp.Value
		bp.Value = tensor.Ensure(&w.zeroBias, bv.Shape...)
		clear(bp.Value.Data)
	}
	w.ins[0] = x
	w.ictx = nn.Context{}
	y := w.Layer.Forward(&w.ictx, w.ins[:])
	w.ins[0] = nil
	kp.Value = kv
	if bp != nil {
		bp.Value = bv
	}
	return y
}
