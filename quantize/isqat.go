package quantize

import "github.com/goqat/goqat/nn"

// IsQAT reports whether m is a QAT model: whether it holds any of the
// layers Model and Apply insert (QuantizeInput, QuantizeWrapper,
// FoldedConvBN). A model loaded with nn.Load is one if it was saved as one.
func IsQAT(m *nn.Model) bool {
	for _, l := range m.Layers() {
		switch l.(type) {
		case *QuantizeInput, *QuantizeWrapper, *FoldedConvBN, *QuantizeLSTM, *QuantizeSimpleRNN, *QuantizeGRU, *QuantizeBidirectional, *QuantizeEmbedding:
			return true
		}
	}
	return false
}
