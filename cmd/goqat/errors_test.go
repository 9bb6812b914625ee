package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
)

// wantOneLine fails unless a command failed with one stderr line containing
// each of want.
func wantOneLine(t *testing.T, args []string, code int, stderr string, want ...string) {
	t.Helper()
	if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "goqat: ") {
		t.Errorf("goqat %v: exit %d, stderr %q: want one line", args, code, stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("goqat %v: stderr %q does not contain %q", args, stderr, w)
		}
	}
}

// TestMisleadingErrors checks the messages that used to mislead: an ONNX
// file given as a model, an empty data set, a requantization multiplier
// out of range, and --verbose 0.
func TestMisleadingErrors(t *testing.T) {
	dir := t.TempDir()
	float, qat, integer := tinyModels(t, dir)
	m, err := nn.Load(float)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := onnx.ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	onnxPath := filepath.Join(dir, "model.onnx")
	if err := onnx.WriteFile(onnxPath, mp); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	for _, args := range [][]string{
		{"eval", "--model", onnxPath},
		{"bench", "--model", onnxPath},
		{"bench", "--model", float, "--int8", onnxPath},
		{"inspect", onnxPath},
		{"convert", "--in", onnxPath, "--out", out},
		{"export", "--in", onnxPath, "--out", filepath.Join(dir, "x.onnx")},
		{"quantize", "--in", onnxPath, "--out", out},
	} {
		_, se, code := run(t, args...)
		wantOneLine(t, args, code, se, onnxPath+": this is an ONNX model", "goqat import")
	}

	// Empty test and training sets.
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDXSet(t, empty, 20, 0)
	emptyTrain := filepath.Join(dir, "empty-train")
	if err := os.Mkdir(emptyTrain, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDXSet(t, emptyTrain, 0, 10)
	for _, args := range [][]string{
		{"eval", "--model", float, "--data", "fashion", "--data-dir", empty},
		{"eval", "--model", integer, "--data", "fashion", "--data-dir", empty},
		{"inspect", "--compare", qat, integer, "--data", "fashion", "--data-dir", empty},
		{"train", "--data", "mnist", "--data-dir", emptyTrain, "--out", out},
	} {
		_, se, code := run(t, args...)
		wantOneLine(t, args, code, se, "holds no images")
	}

	// An integer model whose fully connected layer's output scale makes a
	// requantization multiplier of about 10^24: it loads, but cannot run.
	im, err := lite.Load(integer)
	if err != nil {
		t.Fatal(err)
	}
	for k := range im.Ops {
		if im.Ops[k].Type == lite.OpFullyConnected {
			im.Tensors[im.Ops[k].Output].Scale = 1e-30
			break
		}
	}
	bad := filepath.Join(dir, "bad.int8.safetensors")
	if err := lite.Save(bad, im); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"eval", "--model", bad, "--test-limit", "10"},
		{"bench", "--model", bad, "--batch", "1", "--min-time", "1ms"},
		{"bench", "--model", float, "--int8", bad, "--batch", "1", "--min-time", "1ms"},
		{"inspect", "--compare", qat, bad, "--test-limit", "10"},
	} {
		_, se, code := run(t, args...)
		wantOneLine(t, args, code, se, bad, "multiplier")
	}
}

// TestVerbose: --verbose 0 prints no progress bar in train and quantize
// (1 does, in train), and other values are refused.
func TestVerbose(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice and fine-tunes once")
	}
	dir := t.TempDir()
	float, _, _ := tinyModels(t, dir)
	small := []string{"--train-limit", "128", "--test-limit", "64", "--batch", "64", "--epochs", "1"}
	for _, base := range [][]string{
		append([]string{"train", "--out", filepath.Join(dir, "t.safetensors")}, small...),
		append([]string{"quantize", "--in", float, "--calibrate", "64", "--out", filepath.Join(dir, "q.safetensors")}, small...),
	} {
		levels := []string{"0", "1"}
		if base[0] == "quantize" {
			levels = levels[:1] // the same flag handling as train
		}
		for _, v := range levels {
			args := append(base, "--verbose", v)
			stdout, se, code := run(t, args...)
			if code != 0 {
				t.Fatalf("goqat %v: exit %d: %s", args, code, se)
			}
			if bar := strings.Contains(stdout, "[="); bar != (v == "1") {
				t.Errorf("goqat %v: progress bar printed: %v, want %v:\n%s", args, bar, v == "1", stdout)
			}
		}
		args := append(base, "--verbose", "3")
		_, se, code := run(t, args...)
		wantOneLine(t, args, code, se, "--verbose 3: want 0 (silent), 1 (progress bar) or 2 (one line per epoch)")
	}
}
