package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainCallbacksAndEvalMetrics trains with the Keras callbacks and
// class weights through the binary, then evaluates the float, QAT and
// integer models with the per-class metrics: QAT and integer print the
// same figures, the PNG and the JSON are written.
func TestTrainCallbacksAndEvalMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	model, best, csv := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "best.safetensors"), filepath.Join(dir, "log.csv")
	out, stderr, code := run(t, "train", "--epochs", "3", "--train-limit", "512", "--test-limit", "256", "--batch", "64", "--verbose", "0",
		"--early-stopping", "1", "--checkpoint-best", best, "--reduce-lr-on-plateau", "--plateau-patience", "0", "--csv-log", csv,
		"--class-weight", "balanced", "--out", model)
	if code != 0 {
		t.Fatalf("train failed (%d): %s %s", code, out, stderr)
	}
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss" || len(lines) < 2 || len(lines) > 4 {
		t.Errorf("--csv-log:\n%s", b)
	}
	if out, stderr, code = run(t, "eval", "--model", best, "--test-limit", "64"); code != 0 {
		t.Errorf("eval of --checkpoint-best failed (%d): %s %s", code, out, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--checkpoint-best", model, "--out", model}, "are the same file"},
		{[]string{"train", "--early-stopping", "-1"}, "--early-stopping must not be negative"},
		{[]string{"train", "--class-weight", "0:x"}, "--class-weight"},
		{[]string{"train", "--reduce-lr-on-plateau", "--plateau-factor", "1"}, "--plateau-factor must be in (0, 1)"},
		{[]string{"eval", "--model", model, "--top-k", "-2"}, "--top-k must not be negative"},
		{[]string{"eval", "--model", model, "--confusion-matrix", model}, "would overwrite the input"},
	} {
		_, stderr, code := run(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
		}
	}

	qat, integer := filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	if _, stderr, code = run(t, "quantize", "--in", model, "--epochs", "0", "--calibrate", "256", "--train-limit", "256", "--test-limit", "64", "--out", qat); code != 0 {
		t.Fatalf("quantize failed (%d): %s", code, stderr)
	}
	if _, stderr, code = run(t, "convert", "--in", qat, "--out", integer); code != 0 {
		t.Fatalf("convert failed (%d): %s", code, stderr)
	}
	report := map[string]string{}
	for _, m := range []string{model, qat, integer} {
		png, js := m+".png", m+".json"
		out, stderr, code := run(t, "eval", "--model", m, "--test-limit", "300", "--top-k", "3", "--per-class", "--confusion-matrix", png, "--json", js)
		if code != 0 {
			t.Fatalf("eval %s failed (%d): %s %s", m, code, out, stderr)
		}
		for _, want := range []string{"top-3 accuracy", "macro avg", "confusion matrix (rows: true class, columns: predicted)", "wrote " + png} {
			if !strings.Contains(out, want) {
				t.Errorf("eval %s output lacks %q:\n%s", m, want, out)
			}
		}
		if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", png, err)
		}
		var v map[string]any
		raw, err := os.ReadFile(js)
		if err == nil {
			err = json.Unmarshal(raw, &v)
		}
		if err != nil || v["top_k"] != 3.0 || v["macro_f1"] == nil || len(v["confusion_matrix"].([]any)) != 10 {
			t.Errorf("%s: %v %v", js, err, v)
		}
		report[m] = out[strings.Index(out, "top-3"):]
	}
	// The QAT model computes what its integer model computes.
	if report[qat] != strings.ReplaceAll(report[integer], integer, qat) {
		t.Errorf("QAT and integer metrics differ:\n%s\n%s", report[qat], report[integer])
	}
}
