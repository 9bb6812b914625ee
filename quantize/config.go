package quantize

import (
	"github.com/goqat/goqat/nn"
)

// QuantizeConfig says how to quantize one layer, as tfmot's QuantizeConfig:
// a custom layer (or a built-in one whose default should change) is
// quantized by annotating it with a QuantizeConfig (AnnotateLayer,
// Annotate). The methods see the built float layer and the scheme in effect
// for it.
type QuantizeConfig interface {
	// Weights lists the layer's parameters (by Param.Name) to fake-quantize
	// and their quantizers, e.g. {"kernel", s.Weight(3)}.
	Weights(l nn.Layer, s NBit) []WeightSpec
	// Output returns the quantizer of the layer's output, or nil to leave
	// it unquantized (a layer that keeps its input's scale).
	Output(l nn.Layer, s NBit) *Spec
}

// WeightSpec names a parameter of a layer and its quantizer.
type WeightSpec struct {
	// Param is the Param.Name ("kernel").
	Param string `json:"param"`
	// Spec describes the quantizer.
	Spec Spec `json:"quantizer"`
}

// Config is a QuantizeConfig that quantizes fixed weights with the scheme's
// weight quantizer and, if OutputQuantized, the output with the scheme's
// activation quantizer.
type Config struct {
	// WeightAxes maps each parameter to quantize to its output-channel axis
	// (for per-axis scales; -1 is the last axis).
	WeightAxes map[string]int
	// OutputQuantized quantizes the layer's output.
	OutputQuantized bool
}

// Weights returns the scheme's weight quantizer for every parameter of
// WeightAxes, in the layer's parameter order.
func (c Config) Weights(l nn.Layer, s NBit) []WeightSpec {
	var out []WeightSpec
	for _, p := range l.Params() {
		if axis, ok := c.WeightAxes[p.Name]; ok {
			out = append(out, WeightSpec{Param: p.Name, Spec: s.Weight(axis)})
		}
	}
	return out
}

// Output returns the scheme's activation quantizer if OutputQuantized.
func (c Config) Output(l nn.Layer, s NBit) *Spec {
	if !c.OutputQuantized {
		return nil
	}
	sp := s.Activation()
	return &sp
}
