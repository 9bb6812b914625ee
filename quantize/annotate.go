package quantize

import (
	"github.com/goqat/goqat/nn"
)

// AnnotateModel annotates every layer of m with the registry's default
// config and its inputs for quantization (tfmot quantize_annotate_model):
// Apply(m, AnnotateModel(m)) builds the same QAT model as Model(m). Layers
// annotated with their own config by AnnotateLayer or Annotate keep it,
// whichever order the options come in; a layer type the registry does not
// know needs such a config, or Apply reports it as Model does.
//
// It is for mixing whole-model and per-layer control with one call:
//
//	quantize.Apply(m, quantize.AnnotateModel(m), quantize.AnnotateLayer(custom, cfg))
func AnnotateModel(m *nn.Model) Option {
	return func(o *options) {
		o.wholeModel = true
		if m == nil {
			return
		}
		for _, l := range m.Layers() {
			if _, ok := o.annotated[l.Name()]; !ok {
				o.annotated[l.Name()] = nil
			}
		}
	}
}
