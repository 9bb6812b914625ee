package quantize

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// ParamCount implements nn.ParamCounter: the wrapped layer's parameters
// (the quantizers' per-channel ranges are a few values per channel).
func (w *QuantizeWrapper) ParamCount(in []tensor.Shape) int64 {
	if w.Layer == nil {
		return -1
	}
	return nn.ParamCountOf(w.Layer, in)
}

// ParamCount implements nn.ParamCounter: the folded layer builds the
// original kernel and its folded copy (the BatchNormalization's and the
// quantizers' per-channel values are few beside them).
func (l *FoldedConvBN) ParamCount(in []tensor.Shape) int64 {
	conv, err := nn.NewLayer(l.cfg.Layer.Type, l.Name(), l.cfg.Layer.Config)
	if err != nil {
		return -1
	}
	n := nn.ParamCountOf(conv, in)
	if n < 0 || n > 1<<61 {
		return n
	}
	return 2 * n
}
