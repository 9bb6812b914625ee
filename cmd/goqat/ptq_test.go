package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestConvertPTQ saves a float mnist-cnn, converts it with --ptq on MNIST
// and on random inputs, and checks the integer models load and evaluate;
// a float model without --ptq, --ptq of a QAT model, a bad calibration
// name and writing over the input are one-line errors.
func TestConvertPTQ(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	for _, cal := range []string{"data", "random"} {
		out := filepath.Join(dir, cal+".int8.safetensors")
		so, se, code := run(t, "convert", "--ptq", "--in", fp, "--out", out, "--calibration", cal, "--calibration-samples", "64")
		if code != 0 {
			t.Fatalf("convert --ptq --calibration %s: exit %d: %s", cal, code, se)
		}
		if !strings.Contains(so, "calibrating on 64 "+cal+" inputs") {
			t.Errorf("convert --ptq output: %q", so)
		}
		im, err := lite.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Ops) < 5 {
			t.Errorf("%s: %d ops", out, len(im.Ops))
		}
		if _, se, code := run(t, "eval", "--model", out, "--test-limit", "50"); code != 0 {
			t.Errorf("eval of the PTQ model: exit %d: %s", code, se)
		}
	}
	qp := filepath.Join(dir, "qat.safetensors")
	if _, se, code := run(t, "quantize", "--in", fp, "--out", qp, "--epochs", "0", "--train-limit", "64", "--test-limit", "64"); code != 0 {
		t.Fatalf("quantize --epochs 0: exit %d: %s", code, se)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", "--in", fp, "--out", filepath.Join(dir, "x")}, "is a float model: convert it with --ptq"},
		{[]string{"convert", "--ptq", "--in", qp, "--out", filepath.Join(dir, "x")}, "already a QAT model"},
		{[]string{"convert", "--ptq", "--in", fp, "--out", filepath.Join(dir, "x"), "--calibration", "magic"}, `--calibration "magic"`},
		{[]string{"convert", "--ptq", "--in", fp, "--out", fp}, "would overwrite the input --in"},
	} {
		_, se, code := run(t, c.args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") != 0 {
			t.Errorf("goqat %v: exit %d, stderr %q, want one line containing %q", c.args, code, se, c.want)
		}
	}
}

// TestBenchPTQAndNetworks times a float file against its PTQ int8 model
// and a built-in real network at a small input, once each (short runs).
func TestBenchPTQAndNetworks(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mobilenet-tiny", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	so, se, code := run(t, "bench", "--model", fp, "--ptq", "--batch", "1", "--min-time", "20ms")
	if code != 0 || !strings.Contains(so, "8-bit PTQ") {
		t.Fatalf("bench --ptq: exit %d, stdout %q, stderr %q", code, so, se)
	}
	so, se, code = run(t, "bench", "--model", "resnet20", "--input", "32x32x3", "--batch", "1", "--min-time", "20ms")
	if code != 0 || !strings.Contains(so, "resnet20") {
		t.Fatalf("bench --model resnet20: exit %d, stdout %q, stderr %q", code, so, se)
	}
	if _, se, code := run(t, "bench", "--model", "mobilenet-v2", "--input", "8x8x3"); code == 0 || !strings.Contains(se, "mobilenet-v2") {
		t.Errorf("bench of mobilenet-v2 at 8x8: exit %d, stderr %q", code, se)
	}
	for _, bad := range []string{"28by28", "16384x16384x3", "0x5x1"} {
		if _, se, code := run(t, "bench", "--model", "resnet50", "--input", bad); code == 0 || !strings.Contains(se, "--input") {
			t.Errorf("bench --input %s: exit %d, stderr %q", bad, code, se)
		}
	}
}
