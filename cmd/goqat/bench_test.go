package main

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// tinyModels writes a small untrained float model for 28x28x1 inputs and 10
// classes, its QAT model (calibrated on random inputs) and its integer model
// into dir, and returns the three paths.
func tinyModels(t *testing.T, dir string) (float, qat, integer string) {
	t.Helper()
	conv := nn.NewConv2D(4, 3, 3)
	conv.UseBias = false
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(), nn.NewMaxPooling2D(2, 2),
		nn.NewFlatten(), nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(1)
	qm, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(32, 28, 28, 1)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	if err := quantize.Calibrate(context.Background(), qm, x, 32); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(qm)
	if err != nil {
		t.Fatal(err)
	}
	float, qat, integer = filepath.Join(dir, "f.safetensors"), filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	if err := nn.Save(float, m); err != nil {
		t.Fatal(err)
	}
	if err := nn.Save(qat, qm); err != nil {
		t.Fatal(err)
	}
	if err := lite.Save(integer, im); err != nil {
		t.Fatal(err)
	}
	return float, qat, integer
}

// readJSON decodes the JSON object in the file at path.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// positive checks that every key is present in v and is a positive number.
func positive(t *testing.T, what string, v map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		x, ok := v[k].(float64)
		if !ok || !(x > 0) {
			t.Errorf("%s: %q = %v, want a positive number", what, k, v[k])
		}
	}
}

// TestBenchJSON times a tiny model with every combination bench accepts
// and checks the JSON it writes: the keys of each timed kind present and
// positive, the other kind's absent, and the kernel paths named.
func TestBenchJSON(t *testing.T) {
	dir := t.TempDir()
	float, qat, integer := tinyModels(t, dir)
	floatKeys := []string{"float_ms_per_image_b1", "float_ms_per_image_b3",
		"float_images_per_second_b1", "float_images_per_second_b3"}
	int8Keys := []string{"int8_ms_per_image_b1", "int8_ms_per_image_b3",
		"int8_images_per_second_b1", "int8_images_per_second_b3"}
	speedKeys := []string{"int8_speedup_b1", "int8_speedup_b3"}
	cases := []struct {
		name       string
		args       []string
		float, int bool
	}{
		{"float", []string{"--model", float}, true, false},
		{"float+qat", []string{"--model", float, "--int8", qat}, true, true},
		{"float+int8", []string{"--model", float, "--int8", integer}, true, true},
		{"qat", []string{"--model", qat}, false, true},
		{"int8", []string{"--model", integer}, false, true},
		{"float-only", []string{"--model", "mnist-cnn", "--float-only"}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".json")
			args := append([]string{"bench", "--batch", "1,3", "--min-time", "20ms", "--threads", "1", "--json", out}, c.args...)
			stdout, stderr, code := run(t, args...)
			if code != 0 {
				t.Fatalf("goqat %v: exit %d: %s", args, code, stderr)
			}
			v := readJSON(t, out)
			positive(t, c.name, v, "threads")
			if v["threads"] != 1.0 {
				t.Errorf("threads = %v, want 1", v["threads"])
			}
			check := func(want bool, keys []string) {
				if want {
					positive(t, c.name, v, keys...)
					return
				}
				for _, k := range keys {
					if _, ok := v[k]; ok {
						t.Errorf("%s: unexpected key %q", c.name, k)
					}
				}
			}
			check(c.float, floatKeys)
			check(c.int, int8Keys)
			check(c.float && c.int, speedKeys)
			if c.float && v["f32_gemm_path"] == "" || c.float != (v["f32_gemm_path"] != nil) {
				t.Errorf("f32_gemm_path = %v", v["f32_gemm_path"])
			}
			if c.int && v["int8_path"] == "" || c.int != (v["int8_path"] != nil) {
				t.Errorf("int8_path = %v", v["int8_path"])
			}
			if !strings.Contains(stdout, "ms/img") {
				t.Errorf("no table on stdout:\n%s", stdout)
			}
		})
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", integer, "--int8", qat}, "--int8 goes with a float --model"},
		{[]string{"--model", float, "--int8", float}, "is a float model"},
		{[]string{"--model", integer, "--train", "64"}, "--train needs a float or QAT model"},
		{[]string{"--model", float, "--threads", "-1"}, "--threads must not be negative"},
		{[]string{"--model", float, "--min-time", "0s"}, "--min-time must be positive"},
		{[]string{"--model", float, "--ops"}, "--ops needs an int8 model"},
		{[]string{"--model", float, "--float-only", "--ptq"}, "--float-only times no int8 model"},
		{[]string{"--model", qat, "--float-only"}, "--float-only needs a float model"},
	} {
		_, stderr, code := run(t, append([]string{"bench", "--min-time", "10ms"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("goqat bench %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestBenchOps checks bench --ops: a line per op of the integer model, and
// the same in the JSON file, with shares summing to one.
func TestBenchOps(t *testing.T) {
	dir := t.TempDir()
	_, _, integer := tinyModels(t, dir)
	out := filepath.Join(dir, "ops.json")
	stdout, stderr, code := run(t, "bench", "--model", integer, "--batch", "2", "--min-time", "20ms", "--threads", "1", "--ops", "--json", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "int8 ops at batch 2") || !strings.Contains(stdout, "Conv2D") {
		t.Errorf("no op table on stdout:\n%s", stdout)
	}
	rows, ok := readJSON(t, out)["int8_ops_b2"].([]any)
	if !ok || len(rows) == 0 {
		t.Fatalf("int8_ops_b2 = %v", readJSON(t, out)["int8_ops_b2"])
	}
	var share float64
	for i, r := range rows {
		m := r.(map[string]any)
		if m["index"] != float64(i) || m["type"] == "" || m["us_per_image"].(float64) < 0 {
			t.Errorf("row %d: %v", i, m)
		}
		share += m["share"].(float64)
	}
	if math.Abs(share-1) > 1e-9 {
		t.Errorf("shares sum to %v", share)
	}
	// The family table: every op in one family, the convolutions with
	// their operations per second.
	if !strings.Contains(stdout, "int8 op families at batch 2") {
		t.Errorf("no family table on stdout:\n%s", stdout)
	}
	fams, ok := readJSON(t, out)["int8_families_b2"].([]any)
	if !ok || len(fams) == 0 {
		t.Fatalf("int8_families_b2 = %v", readJSON(t, out)["int8_families_b2"])
	}
	ops, conv := 0.0, false
	for _, f := range fams {
		m := f.(map[string]any)
		ops += m["ops"].(float64)
		if strings.HasPrefix(m["family"].(string), "Conv2D") {
			conv = conv || m["gops"].(float64) > 0
		}
	}
	if int(ops) != len(rows) || !conv {
		t.Errorf("families cover %v ops of %d, a convolution with its GOPS: %v (%v)", ops, len(rows), conv, fams)
	}
}

// TestBenchBuiltin times a built-in model, float against its PTQ integer
// model, as a newcomer would with no file at hand.
func TestBenchBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("times mnist-cnn")
	}
	out := filepath.Join(t.TempDir(), "b.json")
	_, stderr, code := run(t, "bench", "--model", "mnist-cnn", "--batch", "1", "--min-time", "20ms", "--json", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	v := readJSON(t, out)
	positive(t, "mnist-cnn", v, "float_ms_per_image_b1", "int8_ms_per_image_b1", "int8_speedup_b1")
	if v["int8_model"] != "mnist-cnn (8-bit PTQ)" {
		t.Errorf("int8_model = %v", v["int8_model"])
	}
}

// TestEvalJSON evaluates a float, a QAT and an integer model with --json
// (and --dataset, the alias of --data) and checks the keys; the QAT and
// integer models compute the same thing, so their accuracies are equal.
func TestEvalJSON(t *testing.T) {
	dir := t.TempDir()
	float, qat, integer := tinyModels(t, dir)
	acc := map[string]float64{}
	for _, c := range []struct{ kind, path string }{{"float", float}, {"qat", qat}, {"integer", integer}} {
		out := filepath.Join(dir, c.kind+".json")
		_, stderr, code := run(t, "eval", "--model", c.path, "--dataset", "mnist", "--test-limit", "200", "--json", out)
		if code != 0 {
			t.Fatalf("eval %s: exit %d: %s", c.kind, code, stderr)
		}
		v := readJSON(t, out)
		if v["model"] != c.path || v["kind"] != c.kind || v["images"] != 200.0 || v["data"] == nil {
			t.Errorf("eval %s: model, kind, images, data = %v, %v, %v, %v", c.kind, v["model"], v["kind"], v["images"], v["data"])
		}
		a, ok := v["accuracy"].(float64)
		if !ok || a < 0 || a > 1 {
			t.Errorf("eval %s: accuracy = %v", c.kind, v["accuracy"])
		}
		acc[c.kind] = a
		if c.kind != "integer" {
			positive(t, "eval "+c.kind, v, "loss")
		}
	}
	if acc["qat"] != acc["integer"] {
		t.Errorf("QAT accuracy %v, integer %v: want equal", acc["qat"], acc["integer"])
	}
	_, stderr, code := run(t, "eval", "--model", float, "--dataset", "cifar")
	if code == 0 || !strings.Contains(stderr, "cifar") {
		t.Errorf("eval --dataset cifar: exit %d, %s", code, stderr)
	}
}

// TestBenchSequenceNetwork times the built-in sequence networks, float
// and int8 (the integer LSTM and the Conv1D stack, both from PTQ).
func TestBenchSequenceNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("times lstm-rowmnist and conv1d-rowmnist")
	}
	for _, c := range []struct {
		name  string
		batch string
	}{{"lstm-rowmnist", "2"}, {"conv1d-rowmnist", "1"}} {
		out := filepath.Join(t.TempDir(), c.name+".json")
		_, stderr, code := run(t, "bench", "--model", c.name, "--batch", c.batch, "--min-time", "20ms", "--json", out)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.name, code, stderr)
		}
		j := readJSON(t, out)
		positive(t, c.name, j, "float_ms_per_image_b"+c.batch)
		positive(t, c.name, j, "int8_ms_per_image_b"+c.batch)
	}
}
