package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestQuantizeDistill runs goqat quantize --distill and --teacher on a few
// MNIST images: the plan line and the JSON name the teacher, the same seed
// gives the same model file, and bad distillation flags are one-line
// errors.
func TestQuantizeDistill(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	other, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(dir, "teacher.safetensors")
	if err := nn.Save(tp, other); err != nil {
		t.Fatal(err)
	}
	small := []string{"--epochs", "1", "--train-limit", "64", "--test-limit", "32", "--calibrate", "32", "--batch", "32", "--verbose", "0", "--scheme", "w4a8"}
	var saved [][]byte
	for i, extra := range [][]string{
		{"--distill"},
		{"--distill"},
		{"--teacher", tp, "--distill-alpha", "1", "--distill-temperature", "2"},
	} {
		out := filepath.Join(dir, "qat.safetensors")
		js := filepath.Join(dir, "res.json")
		args := append(append([]string{"quantize", "--in", fp, "--out", out, "--json", js}, small...), extra...)
		so, se, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, se)
		}
		teacher := fp
		if i == 2 {
			teacher = tp
		}
		if !strings.Contains(so, "distilling from "+teacher) {
			t.Errorf("%v: output lacks the teacher:\n%s", extra, so)
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Distill struct {
				Teacher            string
				Alpha, Temperature float64
			}
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if res.Distill.Teacher != teacher || res.Distill.Alpha == 0 || res.Distill.Temperature == 0 {
			t.Errorf("%v: JSON distill %+v", extra, res.Distill)
		}
		if saved = append(saved, mustRead(t, out)); i == 1 && string(saved[0]) != string(saved[1]) {
			t.Error("the same seed gave different QAT models")
		}
	}
	if string(saved[1]) == string(saved[2]) {
		t.Error("another teacher gave the same QAT model")
	}
	wrong, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	wp := filepath.Join(dir, "wrong.safetensors")
	if err := nn.Save(wp, wrong); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--distill", "--distill-alpha", "0"}, "--distill-alpha must be in (0, 1]"},
		{[]string{"--distill", "--distill-alpha", "1.5"}, "--distill-alpha must be in (0, 1]"},
		{[]string{"--distill", "--distill-temperature", "-1"}, "--distill-temperature must be a positive number"},
		{[]string{"--distill-alpha", "0.9"}, "need --distill or --teacher"},
		{[]string{"--teacher", wp}, "gives (7,) but --in gives (10,)"},
		{[]string{"--teacher", filepath.Join(dir, "missing.safetensors")}, "--teacher"},
		{[]string{"--distill", "--checkpoint-dir", filepath.Join(dir, "ck")}, "do not support --checkpoint-dir"},
	} {
		args := append(append([]string{"quantize", "--in", fp, "--out", filepath.Join(dir, "x.safetensors")}, small...), c.args...)
		_, se, code := run(t, args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", c.args, code, se, c.want)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
