package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize/transform"
)

// Concatenate's inputs share its range (docs/DESIGN.md, QAT: fake quant sits
// after Concat only). A quantized Conv2D, DepthwiseConv2D or Dense (wrapped
// or folded with its BN) whose only consumer is a quantized
// Concatenate gets no output quantizer of its own: during training its float
// output goes into the Concatenate, whose one quantizer observes and
// fake-quantizes the whole concatenated tensor (fake quant is element-wise,
// so that equals quantizing each part with the shared range). Link then
// hands such a producer the Concatenate's quantizer, so that its exact
// inference and the integer model write its output straight at the
// Concatenate's scale and the Concatenate only copies.
//
// Producers that are not weighted layers (an activation, a pool) keep their
// own ranges; the integer Concatenate requantizes those inputs.

// shareConcatRanges drops the output quantizer of every weighted producer
// that feeds only a quantized Concatenate, before the graph is built.
func shareConcatRanges(g *transform.Graph) {
	for _, n := range g.Nodes {
		if g.IsOutput(n.Name) {
			continue
		}
		cs := g.Consumers(n.Name)
		if len(cs) != 1 || !sharesRange(cs[0].Layer) {
			continue
		}
		switch l := n.Layer.(type) {
		case *FoldedConvBN:
			if l.cfg.WeightQuantizer != nil {
				l.cfg.OutputQuantizer = nil
			}
		case *QuantizeWrapper:
			if len(l.WeightSpecs) > 0 {
				l.OutputSpec = nil
			}
		}
	}
}

// sharesRange reports whether l is a quantized Concatenate (along any
// axis), whose inputs share its output range.
func sharesRange(l nn.Layer) bool {
	w, ok := l.(*QuantizeWrapper)
	if !ok || w.OutputSpec == nil {
		return false
	}
	_, ok = w.Layer.(*nn.Concatenate)
	return ok
}

// concatQuant returns the output quantizer of the quantized Concatenate
// that is the only consumer of layer name (not a model output), nil if
// there is none: the range a weighted producer without an output quantizer
// shares (see OutputQuant).
func concatQuant(m *nn.Model, name string) Quantizer {
	for _, o := range m.OutputNames() {
		if o == name {
			return nil
		}
	}
	cons := consumers(m, name)
	if len(cons) != 1 {
		return nil
	}
	if w, ok := cons[0].(*QuantizeWrapper); ok && sharesRange(w) {
		return w.oq
	}
	return nil
}
