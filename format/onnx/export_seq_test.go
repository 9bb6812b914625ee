package onnx

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// seqCase is a small sequence model for the export tests: its layers
// after an input of shape in (per sample), and the input values' range
// (indices for an Embedding).
type seqCase struct {
	name    string
	in      tensor.Shape
	indices int // > 0: the input holds indices below it
	layers  func() []nn.Layer
}

func seqCases() []seqCase {
	lstm := func(u int, seq, back bool) nn.Layer {
		l := nn.NewLSTM(u)
		l.ReturnSequences, l.GoBackwards = seq, back
		return l
	}
	gru := func(u int, seq, back bool) nn.Layer {
		l := nn.NewGRU(u)
		l.ReturnSequences, l.GoBackwards = seq, back
		return l
	}
	rnn := func(u int, seq, back bool) nn.Layer {
		l := nn.NewSimpleRNN(u)
		l.ReturnSequences, l.GoBackwards = seq, back
		return l
	}
	bi := func(l nn.Layer) nn.Layer {
		b, err := nn.NewBidirectional(l)
		if err != nil {
			panic(err)
		}
		return b
	}
	conv := func(f, k, s, d int, pad string) nn.Layer {
		c := nn.NewConv1D(f, k)
		c.Strides, c.DilationRate, c.Padding = s, d, pad
		return c
	}
	return []seqCase{
		{"lstm-last", tensor.Shape{7, 5}, 0, func() []nn.Layer { return []nn.Layer{lstm(6, false, false), nn.NewDense(3)} }},
		{"lstm-seq-back", tensor.Shape{7, 5}, 0, func() []nn.Layer { return []nn.Layer{lstm(6, true, true), nn.NewFlatten()} }},
		{"lstm-last-back", tensor.Shape{6, 4}, 0, func() []nn.Layer { return []nn.Layer{lstm(5, false, true)} }},
		{"gru-stack", tensor.Shape{7, 5}, 0, func() []nn.Layer { return []nn.Layer{gru(6, true, false), gru(4, false, false)} }},
		{"gru-back", tensor.Shape{5, 3}, 0, func() []nn.Layer { return []nn.Layer{gru(4, true, true), nn.NewGlobalAveragePooling1D()} }},
		{"rnn", tensor.Shape{8, 3}, 0, func() []nn.Layer { return []nn.Layer{rnn(5, true, false), rnn(4, false, true)} }},
		{"bi-lstm", tensor.Shape{7, 5}, 0, func() []nn.Layer { return []nn.Layer{bi(lstm(4, true, false)), bi(lstm(3, false, false))} }},
		{"bi-gru-rnn", tensor.Shape{6, 4}, 0, func() []nn.Layer { return []nn.Layer{bi(gru(3, true, false)), bi(rnn(3, false, false))} }},
		{"conv1d", tensor.Shape{11, 3}, 0, func() []nn.Layer {
			return []nn.Layer{conv(4, 3, 1, 1, "same"), conv(5, 3, 2, 2, "causal"), nn.NewMaxPooling1D(2), conv(3, 2, 1, 1, "valid"), nn.NewGlobalAveragePooling1D()}
		}},
		{"conv1d-same-s2", tensor.Shape{10, 4}, 0, func() []nn.Layer {
			p := nn.NewMaxPooling1D(3)
			p.Strides, p.Padding = 2, "same"
			return []nn.Layer{conv(6, 4, 2, 1, "same"), p, nn.NewFlatten()}
		}},
		{"embedding-lstm", tensor.Shape{9}, 20, func() []nn.Layer {
			e := nn.NewEmbedding(20, 6)
			e.MaskZero = true
			return []nn.Layer{e, lstm(5, false, false), nn.NewDense(2)}
		}},
	}
}

// build makes the case's model with every parameter random (biases
// included, so that their mapping is checked) and a batch of inputs.
func (c seqCase) build(t *testing.T, n int) (*nn.Model, *tensor.Tensor) {
	t.Helper()
	m, err := nn.NewSequential(c.in, c.layers()...)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	for _, p := range m.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64() * 0.4)
		}
	}
	x := tensor.New(append(tensor.Shape{n}, c.in...)...)
	for i := range x.Data {
		if c.indices > 0 {
			x.Data[i] = float32(r.IntN(c.indices))
		} else {
			x.Data[i] = float32(r.NormFloat64())
		}
	}
	return m, x
}

// TestExportSequenceLayers checks the exported graphs' structure: the
// recurrent op per layer with its direction, and ONNX's checker (when
// python3-onnx is installed).
func TestExportSequenceLayers(t *testing.T) {
	models := map[string]*onnxpb.ModelProto{}
	for _, c := range seqCases() {
		m, _ := c.build(t, 1)
		mp, err := ExportFloat(m)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ops []string
		for _, nd := range mp.GetGraph().GetNode() {
			switch nd.GetOpType() {
			case "LSTM", "GRU", "RNN":
				ops = append(ops, nd.GetOpType()+":"+string(attrString(nd, "direction")))
			}
		}
		t.Logf("%s: %v", c.name, ops)
		models[c.name] = mp
	}
	runChecker(t, models)
}

// TestExportSequenceRefused: masking has no ONNX form.
func TestExportSequenceRefused(t *testing.T) {
	l := nn.NewLSTM(3)
	l.Masking = true
	m, err := nn.NewSequential(tensor.Shape{4, 3}, l)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ExportFloat(m)
	if err == nil || !strings.Contains(err.Error(), "masking") {
		t.Fatalf("masked LSTM exported: %v", err)
	}
}

// TestSequenceONNXRuntime runs every case in ONNX Runtime (onnxruntime-node,
// scripts/onnx_conformance.js) and checks its outputs against goqat's
// Predict within 1e-4 of each row's largest magnitude. It skips without
// node and onnxruntime-node, and in -short mode.
func TestSequenceONNXRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime comparison skipped in -short mode (one node process per model)")
	}
	ort := ortDir(t)
	js := script(t, "onnx_conformance.js")
	for _, c := range seqCases() {
		t.Run(c.name, func(t *testing.T) {
			const n = 4
			m, x := c.build(t, n)
			want, err := m.Predict(context.Background(), x, n)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "m.onnx")
			mp, err := ExportFloat(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(path, mp); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "x.f32")
			writeF32(t, in, x.Data)
			var dims []string
			for _, d := range c.in {
				dims = append(dims, fmt.Sprint(d))
			}
			out := filepath.Join(dir, "y.f32")
			cmd := exec.Command("node", js, ort, path, in, out, fmt.Sprint(n), strings.Join(dims, "x"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, b)
			}
			got := readF32(t, out)
			if len(got) != len(want.Data) {
				t.Fatalf("ONNX Runtime gave %d values, goqat %d", len(got), len(want.Data))
			}
			d := rowError(got, want.Data, len(want.Data)/n)
			t.Logf("%s: ONNX Runtime vs goqat %.2g of the row maximum", c.name, d)
			if d > 1e-4 || math.IsNaN(d) {
				t.Errorf("ONNX Runtime differs from goqat by %.3g of the row maximum (criterion 1e-4)", d)
			}
		})
	}
}
