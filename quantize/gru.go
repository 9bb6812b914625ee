package quantize

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
)

// QuantizeGRU is the QAT form of nn.GRU (reset_after, docs/lstm.md): the
// arithmetic of QuantizeLSTM with the GRU's three gates. The kernels are
// fake-quantized per gate column (per gate matrix with NBit.PerGate);
// x W + b_in and h Ur + b_rec are each
// rounded to Q3.12; the z and r gates are the sigmoids of the clamped sums
// rounded to Q0.15; r times the recurrent h term is rounded to Q3.12; the
// candidate n is tanh of the clamped sum with the input h term, rounded to
// Q0.15; the blend z h + (1 - z) n goes through the output quantizer
// (int8), whose codes are the next step's h. It lowers to lite.OpGRU, and
// in inference mode, linked, runs that op itself. Masking is
// QuantizeLSTM's.
type QuantizeGRU struct {
	QuantizeLSTM
}

func init() {
	nn.Register("QuantizeGRU", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg LSTMConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeGRU %q: config: %w", name, err)
		}
		l, err := NewQuantizeGRU(cfg)
		if err != nil {
			return nil, fmt.Errorf("QuantizeGRU %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeGRU returns an unbuilt QuantizeGRU; cfg.LSTM holds the GRU's
// options. It checks what NewQuantizeLSTM checks.
func NewQuantizeGRU(cfg LSTMConfig) (*QuantizeGRU, error) {
	l, err := NewQuantizeLSTM(cfg)
	if err != nil {
		return nil, err
	}
	l.inner, l.gates = &nn.GRU{RecurrentOptions: cfg.LSTM}, 3
	return &QuantizeGRU{QuantizeLSTM: *l}, nil
}

// Type returns "QuantizeGRU".
func (l *QuantizeGRU) Type() string { return "QuantizeGRU" }
