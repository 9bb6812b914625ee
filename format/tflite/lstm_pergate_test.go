package tflite

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// perGateLSTM returns a float model Input (6, 5) -> LSTM(8) -> Dense(3)
// (the LSTM's whole sequence flattened with seq) post-training quantized
// under scheme s on random sequences and converted in rounding tflite
// with int8 edges.
func perGateLSTM(t *testing.T, r *rand.Rand, seq bool, s quantize.NBit) *lite.Model {
	t.Helper()
	layers := []nn.Layer{&nn.LSTM{RecurrentOptions: nn.RecurrentOptions{Units: 8, UseBias: true, ReturnSequences: seq}}}
	if seq {
		layers = append(layers, nn.NewFlatten())
	}
	m, err := nn.NewSequential(tensor.Shape{6, 5}, append(layers, nn.NewDense(3))...)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(r.Uint64())
	x := tensor.New(64, 6, 5)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	q, err := quantize.PTQ(context.Background(), m, x, 32, quantize.WithScheme(s))
	if err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q, convert.Rounding(lite.RoundingTFLite), convert.FullInteger())
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestExportPerGateLSTM quantizes an LSTM with weights per gate matrix
// (quantize.NBit.PerGate), exports it, reads the file back and checks the
// LSTM's weights and eight scales and bit-identical outputs in both
// roundings; the same model quantized per channel is refused with an
// error that names the option.
func TestExportPerGateLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	gate := quantize.Default8Bit
	gate.PerGate = true
	for _, seq := range []bool{false, true} {
		m := perGateLSTM(t, r, seq, gate)
		file, err := Marshal(m, Options{})
		if err != nil {
			t.Fatalf("sequences %v: %v", seq, err)
		}
		back, err := Read(file)
		if err != nil {
			t.Fatalf("sequences %v: %v", seq, err)
		}
		var a, b *lite.Op
		for i := range m.Ops {
			if m.Ops[i].Type == lite.OpLSTM {
				a = &m.Ops[i]
			}
		}
		for i := range back.Ops {
			if back.Ops[i].Type == lite.OpLSTM {
				b = &back.Ops[i]
			}
		}
		if a == nil || b == nil {
			t.Fatalf("sequences %v: LSTM ops %v, read back %v", seq, m.Ops, back.Ops)
		}
		sa, ok := lite.TFLiteLSTMScales(a)
		sb, okb := lite.TFLiteLSTMScales(b)
		if !ok || !okb || sa != sb || !slices.Equal(a.Weights, b.Weights) || !slices.Equal(a.Bias, b.Bias) {
			t.Fatalf("sequences %v: LSTM scales %v (%v), read back %v (%v); weights or biases changed: %v",
				seq, sa, ok, sb, okb, !slices.Equal(a.Weights, b.Weights) || !slices.Equal(a.Bias, b.Bias))
		}
		x := lstmInputs(r, m, 8)
		for _, mode := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
			p, q := *m, *back
			p.Rounding, q.Rounding = mode, mode
			if !slices.Equal(runGoqatN(t, &p, x), runGoqatN(t, &q, x)) {
				t.Errorf("sequences %v rounding %s: outputs differ after the round trip", seq, mode)
			}
		}
	}
	pc := perGateLSTM(t, r, false, quantize.Default8Bit)
	if _, err := Marshal(pc, Options{}); err == nil || !strings.Contains(err.Error(), "--lstm-weights gate") ||
		!strings.Contains(err.Error(), "PerGate") || strings.Contains(err.Error(), "\n") {
		t.Errorf("per-channel LSTM: %v", err)
	}
}
