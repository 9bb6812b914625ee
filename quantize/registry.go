package quantize

import (
	"sort"

	"github.com/goqat/goqat/nn"
)

// rule is one row of the registry: how a built-in layer type is quantized.
type rule struct {
	// weights maps quantized parameters to their output-channel axis.
	weights map[string]int
	// output returns the output's quantizer (nil: the output keeps its
	// input's scale and zero point).
	output func(l nn.Layer, s NBit) *Spec
	// fuses is true for activations that a producer fuses: a layer whose
	// only consumer fuses is not quantized at its output (the activation's
	// output is).
	fuses func(l nn.Layer) bool
}

// activation is the output rule of layers followed by a fake quant.
func activation(_ nn.Layer, s NBit) *Spec { sp := s.Activation(); return &sp }

// always is a fuses rule for ReLU and ReLU6.
func always(nn.Layer) bool { return true }

// registry is the table of where QAT quantizes (docs/DESIGN.md, QAT): which weights are
// quantized (kernels, per output channel), and where fake quant sits: after
// Conv2D / DepthwiseConv2D / Dense unless a ReLU or ReLU6 follows (then
// after the activation), after Add and Multiply, after Concatenate only (a weighted
// layer feeding only a Concatenate shares its range: concat_share.go), never
// after the layers that keep their input's scale (pools, Flatten, Reshape,
// Slice, Dropout, ZeroPadding2D: the rows of keepScale, added by init), a fixed range after softmax, sigmoid
// and tanh. Conv2D / DepthwiseConv2D / Dense / Conv1D followed by BatchNormalization
// are folded first (FoldedConvBN) and SeparableConv2D is split, so those
// patterns do not reach this table.
var registry = map[string]rule{
	"Conv2D":             {weights: map[string]int{"kernel": 3}, output: activation},
	"DepthwiseConv2D":    {weights: map[string]int{"depthwise_kernel": 2}, output: activation},
	"Dense":              {weights: map[string]int{"kernel": 1}, output: activation},
	"Conv1D":             {weights: map[string]int{"kernel": 2}, output: activation},
	"BatchNormalization": {output: activation},
	"Add":                {output: activation},
	"Concatenate":        {output: activation},
	"Multiply":           {output: activation},
	"ReLU":               {output: activation, fuses: always},
	"ReLU6":              {output: activation, fuses: always},
	"Activation":         {output: activationOutput, fuses: activationFuses},
}

func init() {
	for t := range keepScale {
		registry[t] = rule{}
	}
}

// activationOutput places fake quant after an Activation layer: the scheme's
// activation quantizer after relu, relu6, hard_sigmoid, hard_swish and silu
// (TFLite fixes the output range of its int8 LOGISTIC, not of HARD_SWISH;
// goqat's table ops take any output range), fixed ranges after softmax,
// sigmoid (1/256, -128) and tanh (1/128, 0), none after linear.
func activationOutput(l nn.Layer, s NBit) *Spec {
	a, ok := l.(*nn.Activation)
	if !ok {
		return activation(l, s)
	}
	switch a.Func {
	case "linear":
		return nil
	case "softmax", "sigmoid":
		sp := SoftmaxSpec
		return &sp
	case "tanh":
		sp := TanhSpec
		return &sp
	}
	return activation(l, s)
}

// activationFuses reports whether an Activation layer is a fusable ReLU.
func activationFuses(l nn.Layer) bool {
	a, ok := l.(*nn.Activation)
	return ok && (a.Func == "relu" || a.Func == "relu6")
}

// SupportedLayers lists the layer types Model quantizes without an
// annotation, sorted (plus BatchNormalization folding, SeparableConv2D
// splitting, LSTM, GRU and SimpleRNN, which become QuantizeLSTM,
// QuantizeGRU and QuantizeSimpleRNN, Bidirectional around one of them,
// which becomes QuantizeBidirectional, and Embedding, which becomes
// QuantizeEmbedding).
func SupportedLayers() []string {
	out := []string{"SeparableConv2D", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Embedding"}
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// registryConfig adapts a registry rule to QuantizeConfig.
type registryConfig struct{ r rule }

func (c registryConfig) Weights(l nn.Layer, s NBit) []WeightSpec {
	var out []WeightSpec
	for _, p := range l.Params() {
		if axis, ok := c.r.weights[p.Name]; ok {
			out = append(out, WeightSpec{Param: p.Name, Spec: kernelSpec(s, l, axis)})
		}
	}
	return out
}

func (c registryConfig) Output(l nn.Layer, s NBit) *Spec {
	if c.r.output == nil {
		return nil
	}
	return c.r.output(l, s)
}

// kernelSpec returns the scheme's quantizer of layer l's kernel, per
// output channel on axis: a DepthwiseConv2D with a depth multiplier M > 1
// has kernel (KH,KW,C,M), whose output channel c*M+m is numbered by axes
// 2 and 3 together (AxisSpan 2); with M = 1 the spec is the one it always
// was.
func kernelSpec(s NBit, l nn.Layer, axis int) Spec {
	sp := s.Weight(axis)
	if d, ok := l.(*nn.DepthwiseConv2D); ok && d.DepthMultiplier > 1 && sp.PerAxis {
		sp.AxisSpan = 2
	}
	return sp
}

// DefaultConfig returns the registry's QuantizeConfig for a built-in layer
// type, or nil if the type is not in the table.
func DefaultConfig(layerType string) QuantizeConfig {
	r, ok := registry[layerType]
	if !ok {
		return nil
	}
	return registryConfig{r}
}
