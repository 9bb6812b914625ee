package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize/transform"
	"github.com/goqat/goqat/tensor"
)

// Option configures Model and Apply.
type Option func(*options)

type options struct {
	scheme        NBit
	layerScheme   map[string]NBit
	annotated     map[string]QuantizeConfig // by layer name; nil config: registry default
	onlyAnnotated bool
	wholeModel    bool // AnnotateModel: the inputs are quantized under Apply too
	freezeBNAfter int
	noFold        bool
	noInput       bool
	fixedKernels  map[string]bool // the constant 1x1 depthwise nodes made for standalone BNs
}

// WithScheme sets the scheme of every layer (default Default8Bit).
func WithScheme(s NBit) Option { return func(o *options) { o.scheme = s } }

// WithLayerScheme sets the scheme of one layer by name, overriding
// WithScheme (mixed precision: e.g. the first and last layers 8-bit, the
// rest 4-bit). For a folded Conv+BN, name the convolution.
func WithLayerScheme(name string, s NBit) Option {
	return func(o *options) { o.layerScheme[name] = s }
}

// AnnotateLayer marks a layer of the float model (tfmot
// quantize_annotate_layer) to be quantized with cfg, or, with a nil cfg,
// with the registry's default. A custom layer type needs a config. With
// Apply, only annotated layers are quantized.
func AnnotateLayer(layer nn.Layer, cfg QuantizeConfig) Option {
	return Annotate(layer.Name(), cfg)
}

// Annotate is AnnotateLayer by layer name.
func Annotate(name string, cfg QuantizeConfig) Option {
	return func(o *options) { o.annotated[name] = cfg }
}

// WithFreezeBNAfter makes folded Conv+BN layers switch to the moving
// statistics from optimizer step n (Context.Step; default: never, -1).
func WithFreezeBNAfter(n int) Option { return func(o *options) { o.freezeBNAfter = n } }

// WithoutBNFolding leaves BatchNormalization layers unfolded (each
// quantized at its output).
func WithoutBNFolding() Option { return func(o *options) { o.noFold = true } }

// WithoutInputQuantization does not insert QuantizeInput after the model
// inputs.
func WithoutInputQuantization() Option { return func(o *options) { o.noInput = true } }

// Model returns a new model for quantization-aware training (tfmot
// quantize_model): a copy of m (which is not modified) in which
//
//   - SeparableConv2D layers are split into depthwise and pointwise
//     convolutions;
//   - Conv2D / DepthwiseConv2D / Dense followed by BatchNormalization (and
//     ReLU / ReLU6) become one FoldedConvBN layer with the scheme's weight
//     and output quantizers;
//   - every other layer is wrapped in a QuantizeWrapper per the registry
//     table or its annotation's QuantizeConfig (layers that keep their
//     input's scale, such as MaxPooling2D or Flatten, are kept as they are);
//   - a QuantizeInput layer fake-quantizes every model input.
//
// A layer type that is neither in the registry nor annotated is an error
// naming the layer, its type and how to annotate it. The new model has the
// float model's weights; compile it and Fit it to fine-tune.
func Model(m *nn.Model, opts ...Option) (*nn.Model, error) {
	o := &options{scheme: Default8Bit, layerScheme: map[string]NBit{}, annotated: map[string]QuantizeConfig{}, freezeBNAfter: -1}
	for _, opt := range opts {
		opt(o)
	}
	return build(m, o)
}

// Apply quantizes only the layers annotated with AnnotateLayer, Annotate or
// AnnotateModel (tfmot quantize_apply); the others stay float, and the
// model inputs are quantized only with AnnotateModel. Options as Model.
func Apply(m *nn.Model, opts ...Option) (*nn.Model, error) {
	return Model(m, append(opts, func(o *options) { o.onlyAnnotated = true })...)
}

// schemeOf returns the scheme of a layer.
func (o *options) schemeOf(name string) NBit {
	if s, ok := o.layerScheme[name]; ok {
		return s
	}
	return o.scheme
}

func build(m *nn.Model, o *options) (*nn.Model, error) {
	if m == nil {
		return nil, errors.New("quantize: nil model")
	}
	if err := o.scheme.Validate(); err != nil {
		return nil, err
	}
	for name, s := range o.layerScheme {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("layer %q: %w", name, err)
		}
	}
	g, err := transform.FromModel(m)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if err := o.resolveComposites(g); err != nil {
		return nil, err
	}
	if _, err := transform.SplitSeparable(g); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if !o.noFold {
		skip := func(conv *transform.Node) bool {
			if cfg, ok := o.annotated[conv.Name]; ok && cfg != nil {
				return true // the user's config decides
			}
			return o.onlyAnnotated && !o.isAnnotated(conv.Name)
		}
		fold := func(mt transform.Match) (*transform.Node, error) { return o.foldNode(mt) }
		if _, err := transform.FoldBatchNorm(g, skip, fold); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
		// The BNs left follow no foldable layer (after an Add or a
		// Concatenate): each is folded into a constant 1x1 depthwise
		// kernel, an integer per-channel affine op.
		keep := func(bn *transform.Node) bool {
			if cfg, ok := o.annotated[bn.Name]; ok && cfg != nil {
				return false
			}
			return !o.onlyAnnotated || o.isAnnotated(bn.Name)
		}
		o.fixedKernels = map[string]bool{}
		mark := func(dw *transform.Node) { o.fixedKernels[dw.Name] = true }
		if n, err := transform.StandaloneBatchNorm(g, keep, mark); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		} else if n > 0 {
			if _, err := transform.FoldBatchNorm(g, func(c *transform.Node) bool { return !o.fixedKernels[c.Name] }, fold); err != nil {
				return nil, fmt.Errorf("quantize: %w", err)
			}
		}
	}
	probes, err := buildProbes(g)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	// Wrap the remaining layers. Work from a snapshot: the graph's nodes
	// are replaced one by one.
	for _, n := range append([]*transform.Node(nil), g.Nodes...) {
		if n.Type == "FoldedConvBN" {
			continue
		}
		if o.onlyAnnotated && !o.isAnnotated(n.Name) {
			continue
		}
		cfg := o.annotated[n.Name]
		if cfg == nil && (n.Type == "LSTM" || n.Type == "SimpleRNN" || n.Type == "GRU") {
			if err := o.wrapLSTM(n); err != nil {
				return nil, err
			}
			continue
		}
		if cfg == nil && n.Type == "Bidirectional" {
			if err := o.wrapBidirectional(n); err != nil {
				return nil, err
			}
			continue
		}
		if cfg == nil && n.Type == "Embedding" {
			if err := wrapEmbedding(n, o.schemeOf(n.Name)); err != nil {
				return nil, err
			}
			continue
		}
		if cfg == nil {
			cfg = DefaultConfig(n.Type)
		}
		if cfg == nil {
			return nil, unsupported(n)
		}
		if err := o.wrap(g, n, cfg, probes); err != nil {
			return nil, err
		}
	}
	shareConcatRanges(g)
	if !o.noInput && (!o.onlyAnnotated || o.wholeModel) {
		for _, in := range append([]transform.Input(nil), g.Inputs...) {
			if idx, err := indexInput(g, in.Name); err != nil || idx {
				if err != nil {
					return nil, err
				}
				continue // indices (see QuantizeEmbedding)
			}
			q, err := NewQuantizeInput(o.scheme.Input())
			if err != nil {
				return nil, err
			}
			name := g.FreshName("quantize_" + in.Name)
			cs := g.Consumers(in.Name)
			g.Rewire(in.Name, name)
			first := ""
			if len(cs) > 0 {
				first = cs[0].Name
			}
			g.Insert(first, &transform.Node{Name: name, Type: q.Type(), Inbound: []string{in.Name}, Layer: q})
		}
	}
	qm, err := g.Build()
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	return qm, nil
}

// isAnnotated reports whether a layer was annotated (with AnnotateModel,
// every layer is, including those a rewrite created).
func (o *options) isAnnotated(name string) bool {
	if o.wholeModel {
		return true
	}
	_, ok := o.annotated[name]
	return ok
}

// unsupported is the error for a layer Model cannot quantize.
func unsupported(n *transform.Node) error {
	return fmt.Errorf("quantize: layer %q of type %s is not supported by the quantization registry; "+
		"give it a QuantizeConfig with quantize.AnnotateLayer(layer, cfg) or quantize.Annotate(%q, cfg) "+
		"(supported types: %s)", n.Name, n.Type, n.Name, strings.Join(SupportedLayers(), ", "))
}

// foldNode makes the FoldedConvBN node of a Conv+BN(+act) match.
func (o *options) foldNode(mt transform.Match) (*transform.Node, error) {
	s := o.schemeOf(mt.Conv.Name)
	r := registry[mt.Conv.Type]
	axis := 0
	for _, a := range r.weights {
		axis = a
	}
	conv, err := nn.NewLayer(mt.Conv.Type, mt.Conv.Name, mt.Conv.Config)
	if err != nil {
		return nil, fmt.Errorf("layer %q: %w", mt.Conv.Name, err)
	}
	wspec := kernelSpec(s, conv, axis)
	ospec := s.Activation()
	var bnCfg nn.BatchNormalizationConfig
	if err := json.Unmarshal(mt.BN.Config, &bnCfg); err != nil {
		return nil, fmt.Errorf("layer %q: %w", mt.BN.Name, err)
	}
	cfg := FoldedConfig{
		Layer:           LayerSpec{Type: mt.Conv.Type, Config: mt.Conv.Config},
		BatchNorm:       bnCfg,
		Activation:      mt.Activation,
		WeightQuantizer: &wspec,
		OutputQuantizer: &ospec,
		FreezeBNAfter:   o.freezeBNAfter,
		FixedKernel:     o.fixedKernels[mt.Conv.Name],
	}
	l, err := NewFoldedConvBN(cfg)
	if err != nil {
		return nil, fmt.Errorf("layer %q: %w", mt.Conv.Name, err)
	}
	w := map[string]*tensor.Tensor{}
	for k, v := range mt.Conv.Weights {
		w[k] = v // kernel (or depthwise_kernel) and bias keep their names
	}
	for k, v := range mt.BN.Weights {
		w[k] = v
	}
	return &transform.Node{Type: l.Type(), Layer: l, Weights: w}, nil
}

// wrap replaces node n by a QuantizeWrapper configured by cfg, or leaves it
// as is if cfg quantizes nothing. The output is not quantized when the
// only consumer fuses the layer's activation (ReLU after Conv2D or Add).
func (o *options) wrap(g *transform.Graph, n *transform.Node, cfg QuantizeConfig, probes map[string]nn.Layer) error {
	s := o.schemeOf(n.Name)
	probe := probes[n.Name]
	ws := cfg.Weights(probe, s)
	out := cfg.Output(probe, s)
	fused := false // the output's fake quant moves after the activation
	if out != nil && !g.IsOutput(n.Name) {
		if cs := g.Consumers(n.Name); len(cs) == 1 && fusesInto(cs[0], o) {
			out, fused = nil, true
		}
	}
	// A layer whose activation is fused stays wrapped even without
	// quantizers: once linked, its exact inference and its integer op
	// clamp with the activation (Add + ReLU of a residual block).
	if len(ws) == 0 && out == nil && !fused {
		return nil
	}
	inner, err := nn.NewLayer(n.Type, n.Name, n.Config)
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	w, err := NewQuantizeWrapper(inner, ws, out)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	n.Layer = w
	n.Type = w.Type()
	return nil
}

// fusesInto reports whether consumer c is an activation that a producer
// fuses (its output then carries the fake quant).
func fusesInto(c *transform.Node, o *options) bool {
	if o.onlyAnnotated && !o.isAnnotated(c.Name) {
		return false
	}
	if cfg, ok := o.annotated[c.Name]; ok && cfg != nil {
		return false
	}
	r, ok := registry[c.Type]
	if !ok || r.fuses == nil {
		return false
	}
	if c.Orig != nil {
		return r.fuses(c.Orig)
	}
	return c.Type == "ReLU" || c.Type == "ReLU6"
}

// buildProbes builds a fresh copy of every node's layer on its input
// shapes, so that QuantizeConfigs see built layers (and their parameters)
// without touching the float model or the layers the graph will use.
func buildProbes(g *transform.Graph) (map[string]nn.Layer, error) {
	shapes := map[string]tensor.Shape{}
	for _, in := range g.Inputs {
		shapes[in.Name] = in.Shape
	}
	probes := map[string]nn.Layer{}
	for _, n := range g.Nodes {
		cfg := n.Config
		if n.Layer != nil {
			raw, err := json.Marshal(n.Layer.Config())
			if err != nil {
				return nil, err
			}
			cfg = raw
		}
		l, err := nn.NewLayer(n.Type, n.Name, cfg)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", n.Name, err)
		}
		var in []tensor.Shape
		for _, name := range n.Inbound {
			in = append(in, shapes[name])
		}
		out, err := l.Build(in)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", n.Name, err)
		}
		shapes[n.Name] = out
		probes[n.Name] = l
	}
	return probes, nil
}

// resolveComposites checks that the layers named by WithLayerScheme and
// the annotations are layers of g (the model with its composites
// flattened: "<composite>/<sub-layer>"), and extends a scheme or a default
// annotation (nil config) given to a composite to every layer flattened
// from it (docs/DESIGN.md, Subclassed and nested models).
func (o *options) resolveComposites(g *transform.Graph) error {
	inside := func(name string) []string {
		var out []string
		for _, n := range g.Nodes {
			if strings.HasPrefix(n.Name, name+"/") {
				out = append(out, n.Name)
			}
		}
		return out
	}
	// A composite's name is the prefix of the layers flattened from it
	// (nested composites included: "backbone/block_1").
	isComposite := func(name string) bool { return len(inside(name)) > 0 }
	for name, s := range o.layerScheme {
		if g.Node(name) != nil {
			continue
		}
		if !isComposite(name) {
			return fmt.Errorf("quantize: WithLayerScheme: the model has no layer %q", name)
		}
		delete(o.layerScheme, name)
		for _, sub := range inside(name) {
			if _, set := o.layerScheme[sub]; !set {
				o.layerScheme[sub] = s
			}
		}
	}
	for name, cfg := range o.annotated {
		if g.Node(name) != nil {
			continue
		}
		if !isComposite(name) {
			return fmt.Errorf("quantize: annotation: the model has no layer %q", name)
		}
		if cfg != nil {
			return fmt.Errorf("quantize: annotation: layer %q is a composite; annotate its sub-layers (%s) with their own configs", name, strings.Join(inside(name), ", "))
		}
		delete(o.annotated, name)
		for _, sub := range inside(name) {
			if _, set := o.annotated[sub]; !set {
				o.annotated[sub] = nil
			}
		}
	}
	return nil
}

// wrapLSTM replaces an LSTM (GRU, SimpleRNN) node by a QuantizeLSTM
// (QuantizeGRU, QuantizeSimpleRNN) under the layer's scheme
// (docs/lstm.md).
func (o *options) wrapLSTM(n *transform.Node) error {
	cfg, err := wrapLSTMConfig(n.Config, o.schemeOf(n.Name))
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	var l nn.Layer
	switch n.Type {
	case "SimpleRNN":
		l, err = NewQuantizeSimpleRNN(cfg)
	case "GRU":
		l, err = NewQuantizeGRU(cfg)
	default:
		l, err = NewQuantizeLSTM(cfg)
	}
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	l.SetName(n.Name)
	n.Layer = l
	n.Type = l.Type()
	return nil
}

// wrapBidirectional replaces a Bidirectional node (around an LSTM, GRU or
// SimpleRNN) by a QuantizeBidirectional under the layer's scheme
// (docs/lstm.md).
func (o *options) wrapBidirectional(n *transform.Node) error {
	cfg, err := wrapBidirectionalConfig(n.Config, o.schemeOf(n.Name))
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	l, err := NewQuantizeBidirectional(cfg)
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	l.SetName(n.Name)
	n.Layer = l
	n.Type = l.Type()
	return nil
}
