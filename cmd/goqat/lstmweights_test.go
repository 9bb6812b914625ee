package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestQuantizeLSTMWeights quantizes an untrained lstm-rowmnist (PTQ, no
// fine-tuning, a few MNIST images) both ways: with --lstm-weights gate the
// scheme is reported as w8a8-gate and goqat export --format tflite writes
// the file; per channel (the default) the export is refused with one line
// naming the flag; convert --ptq --lstm-weights gate gives an integer model
// that exports. An unknown granularity is a one-line error.
func TestQuantizeLSTMWeights(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("lstm-rowmnist", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"gate", "channel"} {
		qp := filepath.Join(dir, w+".qat.safetensors")
		so, se, code := run(t, "quantize", "--in", fp, "--lstm-weights", w, "--epochs", "0", "--calibrate", "64",
			"--train-limit", "64", "--test-limit", "32", "--verbose", "0", "--out", qp)
		scheme := "w8a8 "
		if w == "gate" {
			scheme = "w8a8-gate "
		}
		if code != 0 || !strings.Contains(so, "PTQ "+scheme) {
			t.Fatalf("quantize --lstm-weights %s: exit %d\n%s%s", w, code, so, se)
		}
		tf := filepath.Join(dir, w+".tflite")
		so, se, code = run(t, "export", "--format", "tflite", "--in", qp, "--out", tf)
		if w == "gate" {
			if code != 0 {
				t.Fatalf("export of the per-gate LSTM: exit %d\n%s%s", code, so, se)
			}
			if st, err := os.Stat(tf); err != nil || st.Size() == 0 {
				t.Fatalf("export wrote no file: %v", err)
			}
			continue
		}
		if code == 0 || !strings.Contains(se, "--lstm-weights gate") || strings.Count(strings.TrimSpace(se), "\n") > 0 {
			t.Errorf("export of the per-channel LSTM: exit %d, stderr %q", code, se)
		}
	}
	// convert --ptq takes the flag too: its integer model exports.
	ip := filepath.Join(dir, "ptq.int8.safetensors")
	if so, se, code := run(t, "convert", "--ptq", "--in", fp, "--lstm-weights", "gate", "--calibration", "random",
		"--calibration-samples", "16", "--rounding", "tflite", "--out", ip); code != 0 {
		t.Fatalf("convert --ptq --lstm-weights gate: exit %d\n%s%s", code, so, se)
	}
	if so, se, code := run(t, "export", "--format", "tflite", "--in", ip, "--out", filepath.Join(dir, "ptq.tflite")); code != 0 {
		t.Fatalf("export of the per-gate PTQ model: exit %d\n%s%s", code, so, se)
	}
	for _, args := range [][]string{
		{"quantize", "--in", fp, "--lstm-weights", "tensor", "--out", filepath.Join(dir, "x.safetensors")},
		{"convert", "--ptq", "--in", fp, "--lstm-weights", "tensor", "--calibration", "random", "--out", filepath.Join(dir, "x.int8.safetensors")},
	} {
		_, se, code := run(t, args...)
		if code == 0 || !strings.Contains(se, `--lstm-weights "tensor"`) || strings.Count(strings.TrimSpace(se), "\n") > 0 {
			t.Errorf("%s --lstm-weights tensor: exit %d, stderr %q", args[0], code, se)
		}
	}
}
