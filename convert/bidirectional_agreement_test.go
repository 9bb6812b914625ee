package convert

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/format/tflite"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// recurrentOf returns a new, unbuilt LSTM, GRU or SimpleRNN with options o.
func recurrentOf(kind string, o nn.RecurrentOptions) nn.Layer {
	switch kind {
	case "GRU":
		return &nn.GRU{RecurrentOptions: o}
	case "SimpleRNN":
		return &nn.SimpleRNN{RecurrentOptions: o}
	}
	return &nn.LSTM{RecurrentOptions: o}
}

// TestAgreementBidirectional trains Bidirectional(LSTM), (GRU) and
// (SimpleRNN) classifiers on the padded sequence task (last outputs, and
// all outputs flattened; with and without Masking; and two Bidirectional
// layers stacked; 8-bit and W4A8), fine-tunes them with QAT, converts them (float and
// full-integer edges) and checks that the integer model gives the QAT
// model's output codes exactly, also after save/load round trips of the
// QAT model and of the integer model, and that TFLite and integer ONNX
// export of the sequence merge refuse in one line.
func TestAgreementBidirectional(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 71))
	const steps, feats = 8, 4
	x, y := paddedTask(r, 768, steps, feats)
	xt, yt := paddedTask(r, 384, steps, feats)
	type layer struct {
		kind      string
		units     int
		seq, mask bool
	}
	type tcase struct {
		layers []layer
		wbits  int // the kernels' bits (8, or 4: W4A8)
	}
	cases := []tcase{
		{[]layer{{"LSTM", 8, false, true}}, 8},
		{[]layer{{"LSTM", 6, true, true}}, 8},
		{[]layer{{"GRU", 8, false, true}}, 8},
		{[]layer{{"GRU", 6, true, true}}, 8},
		{[]layer{{"SimpleRNN", 10, false, true}}, 8},
		{[]layer{{"SimpleRNN", 8, true, true}}, 8},
		{[]layer{{"LSTM", 6, true, false}}, 8},
		{[]layer{{"LSTM", 6, true, true}, {"GRU", 8, false, true}}, 8},
		{[]layer{{"GRU", 6, true, true}, {"LSTM", 8, false, true}}, 4},
	}
	if testing.Short() {
		cases = []tcase{cases[1], cases[2], cases[7]}
	}
	for _, tc := range cases {
		c := tc.layers
		var names []string
		var layers []nn.Layer
		seqOut := false
		for _, l := range c {
			b, err := nn.NewBidirectional(recurrentOf(l.kind, nn.RecurrentOptions{Units: l.units, UseBias: true, ReturnSequences: l.seq, Masking: l.mask}))
			if err != nil {
				t.Fatal(err)
			}
			layers = append(layers, b)
			seqOut = l.seq
			names = append(names, strings.Join([]string{l.kind, map[bool]string{true: "seq", false: "last"}[l.seq], map[bool]string{true: "masked", false: "unmasked"}[l.mask]}, "/"))
		}
		name := strings.Join(names, "+")
		if tc.wbits != 8 {
			name += " W4A8"
		}
		if seqOut {
			layers = append(layers, nn.NewFlatten())
		}
		layers = append(layers, nn.NewDense(3))
		m, err := nn.NewSequential(tensor.Shape{steps, feats}, layers...)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(5)
		fitModel(t, m, x, y, 1e-2, 4)
		floatAcc := accuracyOf(t, m, xt, yt)
		qat, err := quantize.Model(m, quantize.WithScheme(quantize.NBit{WeightBits: tc.wbits, ActivationBits: 8, PerAxis: true}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fitModel(t, qat, x, y, 1e-3, 1)
		qatAcc := accuracyOf(t, qat, xt, yt)
		if floatAcc < 0.6 || qatAcc < floatAcc-0.05 {
			t.Errorf("%s: float accuracy %.3f, QAT %.3f", name, floatAcc, qatAcc)
		}
		qpath := filepath.Join(t.TempDir(), "bidi.qat.safetensors")
		if err := nn.Save(qpath, qat); err != nil {
			t.Fatal(err)
		}
		loaded, err := nn.Load(qpath)
		if err != nil {
			t.Fatalf("%s: loading the QAT model: %v", name, err)
		}
		for _, full := range []bool{false, true} {
			var opts []Option
			if full {
				opts = append(opts, FullInteger())
			}
			im, err := Convert(qat, opts...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			merges, back := 0, 0
			for _, op := range im.Ops {
				if op.Type == lite.OpBidirectionalConcat {
					merges++
				}
				if op.GoBackwards {
					back++
				}
			}
			wantMerges := 0
			for _, l := range c {
				if l.seq {
					wantMerges++
				}
			}
			if merges != wantMerges || back != len(c) {
				t.Fatalf("%s: %d BidirectionalConcat and %d backward ops, want %d and %d", name, merges, back, wantMerges, len(c))
			}
			a := compareOutputs(t, qat, im, xt, 64)
			t.Logf("%s full-integer %v: float accuracy %.3f, QAT %.3f; %d of %d output codes and %d of %d classes identical",
				name, full, floatAcc, qatAcc, a.same, a.vals, a.top1Same, a.n)
			if a.same != a.vals || a.top1Same != a.n {
				t.Errorf("%s: %d of %d output codes and %d of %d classes differ", name, a.vals-a.same, a.vals, a.n-a.top1Same, a.n)
			}
			if full {
				continue
			}
			if b := compareOutputs(t, loaded, im, xt, 64); b != a {
				t.Errorf("%s: the loaded QAT model %+v, before saving %+v", name, b, a)
			}
			path := filepath.Join(t.TempDir(), "bidi.int8.safetensors")
			if err := lite.Save(path, im); err != nil {
				t.Fatal(err)
			}
			lm, err := lite.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if b := compareOutputs(t, qat, lm, xt, 64); b != a {
				t.Errorf("%s: after a save/load round trip %+v, before %+v", name, b, a)
			}
			if merges > 0 {
				err := tflite.WriteFile(filepath.Join(t.TempDir(), "bidi.tflite"), im, tflite.Options{})
				t.Logf("%s: TFLite export: %v", name, err)
				if err == nil || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: TFLite export of the sequence merge: %v, want a one-line refusal", name, err)
				}
				if _, err := onnx.ExportInteger(im); err == nil || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: integer ONNX export of the sequence merge: %v, want a one-line refusal", name, err)
				}
			}
		}
	}
}
