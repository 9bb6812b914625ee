package quantize

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
)

// QuantizeSimpleRNN is the QAT form of nn.SimpleRNN (docs/lstm.md): the
// arithmetic of QuantizeLSTM with one gate and no cell. The kernels are
// fake-quantized per unit (per kernel with NBit.PerGate: one gate);
// x W + b and h Ur are each rounded to Q3.12
// and their sum clamped to [-8, 8); tanh of it is rounded to Q0.15 and
// goes through the output quantizer (int8), whose codes are the next
// step's recurrent input. It lowers to lite.OpSimpleRNN, and in inference
// mode, linked, runs that op itself. Masking is QuantizeLSTM's.
type QuantizeSimpleRNN struct {
	QuantizeLSTM
}

func init() {
	nn.Register("QuantizeSimpleRNN", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg LSTMConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeSimpleRNN %q: config: %w", name, err)
		}
		l, err := NewQuantizeSimpleRNN(cfg)
		if err != nil {
			return nil, fmt.Errorf("QuantizeSimpleRNN %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeSimpleRNN returns an unbuilt QuantizeSimpleRNN; cfg.LSTM
// holds the SimpleRNN's options. It checks what NewQuantizeLSTM checks.
func NewQuantizeSimpleRNN(cfg LSTMConfig) (*QuantizeSimpleRNN, error) {
	l, err := NewQuantizeLSTM(cfg)
	if err != nil {
		return nil, err
	}
	l.inner, l.gates = &nn.SimpleRNN{RecurrentOptions: cfg.LSTM}, 1
	return &QuantizeSimpleRNN{QuantizeLSTM: *l}, nil
}

// Type returns "QuantizeSimpleRNN".
func (l *QuantizeSimpleRNN) Type() string { return "QuantizeSimpleRNN" }
