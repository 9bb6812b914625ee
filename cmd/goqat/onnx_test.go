package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestONNXBadInput checks that export and import fail with one line on
// stderr naming the problem and a non-zero exit.
func TestONNXBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("\x08\x07\x12\xff\xff\xff\xffnot a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A float model whose Relu is replaced by an op goqat does not import.
	fixture, err := os.ReadFile(filepath.Join("..", "..", "format", "onnx", "testdata", "fixture.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(fixture), "\x22\x04Relu")
	if i < 0 {
		t.Fatal("fixture.onnx has no Relu op_type field")
	}
	unsupported := append([]byte(nil), fixture...)
	copy(unsupported[i+2:], "Relx")
	badOp := filepath.Join(dir, "badop.onnx")
	if err := os.WriteFile(badOp, unsupported, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"export", "--in", "x.safetensors"}, "--in and --out are required"},
		{[]string{"export", "--format", "tfjs", "--in", "a", "--out", "b"}, `--format "tfjs" is not supported`},
		{[]string{"export", "--in", filepath.Join(dir, "missing.safetensors"), "--out", filepath.Join(dir, "m.onnx")}, "missing.safetensors"},
		{[]string{"import", "--in", garbage}, "--in and --out are required"},
		{[]string{"import", "--in", garbage, "--out", filepath.Join(dir, "g.safetensors")}, "not an ONNX model"},
		{[]string{"import", "--in", filepath.Join(dir, "nope.onnx"), "--out", filepath.Join(dir, "g.safetensors")}, "nope.onnx"},
		{[]string{"import", "--in", badOp, "--out", filepath.Join(dir, "g.safetensors")}, `node "relu" (Relx): op type Relx is not supported`},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code == 0 {
			t.Errorf("goqat %v: exit 0, want non-zero", c.args)
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "goqat: ") {
			t.Errorf("goqat %v: stderr is not one 'goqat: ' line:\n%s", c.args, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("goqat %v: stderr %q does not mention %q", c.args, stderr, c.want)
		}
	}
	for _, cmd := range []string{"export", "import"} {
		out, _, code := run(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "goqat "+cmd+" --") {
			t.Errorf("goqat %s --help (%d) has no example line:\n%s", cmd, code, out)
		}
	}
}

// checkONNX runs scripts/onnx_check.py on files with /usr/bin/python3, or
// logs why it cannot.
func checkONNX(t *testing.T, files ...string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx").Run(); err != nil {
		t.Log("onnx checker skipped: /usr/bin/python3 with the onnx package is missing (apt-get install python3-onnx)")
		return
	}
	script := filepath.Join("..", "..", "scripts", "onnx_check.py")
	out, err := exec.Command("/usr/bin/python3", append([]string{script}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("onnx checker: %v\n%s", err, out)
	}
}

// TestONNXExportImport trains a tiny model through the binary, exports
// it (float, QAT and integer), imports the float export back and checks
// that it evaluates to the same accuracy, and imports the onnx.helper
// fixture.
func TestONNXExportImport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	if _, stderr, code := run(t, "train", "--epochs", "1", "--train-limit", "512", "--test-limit", "256", "--verbose", "0", "--out", p("f.safetensors")); code != 0 {
		t.Fatalf("train failed (%d): %s", code, stderr)
	}
	if _, stderr, code := run(t, "quantize", "--in", p("f.safetensors"), "--epochs", "0", "--calibrate", "256", "--train-limit", "256", "--test-limit", "128", "--verbose", "0", "--out", p("q.safetensors")); code != 0 {
		t.Fatalf("quantize failed (%d): %s", code, stderr)
	}
	if _, stderr, code := run(t, "convert", "--in", p("q.safetensors"), "--out", p("i.safetensors")); code != 0 {
		t.Fatalf("convert failed (%d): %s", code, stderr)
	}
	for _, c := range []struct{ in, out, kind string }{
		{"f.safetensors", "f.onnx", "(float model)"},
		{"q.safetensors", "q.onnx", "(QAT model converted to integer, QDQ)"},
		{"i.safetensors", "i.onnx", "(integer model, QDQ)"},
	} {
		out, stderr, code := run(t, "export", "--format", "onnx", "--in", p(c.in), "--out", p(c.out))
		if code != 0 || !strings.Contains(out, c.kind) || !strings.Contains(out, "opset 13") {
			t.Fatalf("export %s failed (%d): %s %s", c.in, code, out, stderr)
		}
	}
	checkONNX(t, p("f.onnx"), p("q.onnx"), p("i.onnx"))
	out, stderr, code := run(t, "import", "--in", p("f.onnx"), "--out", p("back.safetensors"))
	if code != 0 || !strings.Contains(out, `model "mnist_cnn"`) {
		t.Fatalf("import failed (%d): %s %s", code, out, stderr)
	}
	acc := func(model string) string {
		out, stderr, code := run(t, "eval", "--model", model, "--test-limit", "256")
		if code != 0 || !strings.Contains(out, "accuracy") {
			t.Fatalf("eval %s failed (%d): %s %s", model, code, out, stderr)
		}
		return out[strings.LastIndex(out, "accuracy"):]
	}
	if a, b := acc(p("f.safetensors")), acc(p("back.safetensors")); a != b {
		t.Errorf("the imported model evaluates differently: %q vs %q", b, a)
	}
	fixture := filepath.Join("..", "..", "format", "onnx", "testdata", "fixture.onnx")
	out, stderr, code = run(t, "import", "--in", fixture, "--out", p("fx.safetensors"))
	if code != 0 || !strings.Contains(out, "17 layers") {
		t.Fatalf("import of the fixture failed (%d): %s %s", code, out, stderr)
	}
	if _, stderr, code := run(t, "export", "--in", p("fx.safetensors"), "--out", p("fx.onnx")); code != 0 {
		t.Fatalf("export of the imported fixture failed (%d): %s", code, stderr)
	}
	checkONNX(t, p("fx.onnx"))
}
