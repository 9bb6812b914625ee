package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "goqat-cli-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "goqat")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building goqat: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes the goqat binary and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running goqat %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestBadInput checks that every kind of bad input ends with one line on
// stderr naming the problem and a non-zero exit, never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.safetensors")
	if err := os.WriteFile(truncated, []byte{200, 0, 0, 0, 0, 0, 0, 0, '{'}, 0o644); err != nil {
		t.Fatal(err)
	}
	notModel := filepath.Join(dir, "empty.safetensors")
	if err := os.WriteFile(notModel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--model", "resnet-9000"}, `unknown model "resnet-9000"`},
		{[]string{"train", "--epochs", "0"}, "--epochs must be at least 1"},
		{[]string{"train", "--batch", "-3"}, "--batch must be at least 1"},
		{[]string{"train", "--data", "cifar"}, "cifar"},
		{[]string{"train", "--data", "fashion", "--data-dir", filepath.Join(dir, "nope")}, "nope"},
		{[]string{"eval", "--model", filepath.Join(dir, "missing.safetensors")}, "missing.safetensors"},
		{[]string{"eval", "--model", truncated}, "truncated.safetensors"},
		{[]string{"eval", "--model", notModel}, "empty.safetensors"},
		{[]string{"eval"}, "--model is required"},
		{[]string{"inspect", truncated}, "truncated.safetensors"},
		{[]string{"bench", "--batch", "1,x"}, `"x" is not a positive batch size`},
		{[]string{"no-such-command"}, "unknown command"},
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
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Errorf("goqat %v panicked:\n%s", c.args, stderr)
		}
	}
}

// TestTrainEvalInspect runs a tiny training end to end through the binary and
// checks that the saved model evaluates and inspects.
func TestTrainEvalInspect(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	out, stderr, code := run(t, "train", "--epochs", "1", "--train-limit", "512", "--test-limit", "256", "--batch", "64", "--verbose", "2", "--out", model)
	if code != 0 {
		t.Fatalf("train failed (%d): %s", code, stderr)
	}
	if !strings.Contains(out, "Test accuracy") || !strings.Contains(out, "Epoch 1/1") {
		t.Errorf("train output lacks the accuracy or epoch line:\n%s", out)
	}
	out, stderr, code = run(t, "eval", "--model", model, "--test-limit", "256", "--json", filepath.Join(dir, "e.json"))
	if code != 0 || !strings.Contains(out, "accuracy") {
		t.Fatalf("eval failed (%d): %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "e.json")); err != nil {
		t.Errorf("eval --json wrote nothing: %v", err)
	}
	out, _, code = run(t, "inspect", model)
	if code != 0 || !strings.Contains(out, "Trainable params: 119,914") {
		t.Errorf("inspect output (%d):\n%s", code, out)
	}
	// Quantize (PTQ), convert, and check the integer model end to end.
	qat, integer := filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	if _, stderr, code = run(t, "quantize", "--in", model, "--epochs", "0", "--calibrate", "256", "--train-limit", "256", "--test-limit", "128", "--out", qat); code != 0 {
		t.Fatalf("quantize failed (%d): %s", code, stderr)
	}
	out, stderr, code = run(t, "convert", "--in", qat, "--out", integer)
	if code != 0 || !strings.Contains(out, "dense: 8-bit weights") {
		t.Fatalf("convert failed (%d): %s %s", code, out, stderr)
	}
	qout, _, _ := run(t, "eval", "--model", qat, "--test-limit", "128")
	out, stderr, code = run(t, "eval", "--model", integer, "--test-limit", "128", "--json", filepath.Join(dir, "i.json"))
	if code != 0 || !strings.Contains(out, "(integer)") {
		t.Fatalf("eval of the integer model failed (%d): %s %s", code, out, stderr)
	}
	// Bit-exact inference: the same accuracy, to the printed digit.
	acc := func(s string) string { return s[strings.LastIndex(s, "accuracy"):] }
	if !strings.Contains(qout, "accuracy") || acc(qout) != acc(out) {
		t.Errorf("QAT and integer accuracies differ:\n%s%s", qout, out)
	}
	out, _, code = run(t, "inspect", integer)
	if code != 0 || !strings.Contains(out, "quantize_input_1") || !strings.Contains(out, "w-bits") {
		t.Errorf("inspect of the integer model (%d):\n%s", code, out)
	}
	out, _, code = run(t, "inspect", "--compare", qat, integer, "--test-limit", "64")
	if code != 0 || !strings.Contains(out, "FullyConnected") || !strings.Contains(out, "100.000%") {
		t.Errorf("inspect --compare (%d):\n%s", code, out)
	}
	if _, stderr, code = run(t, "convert", "--in", model); code == 0 || !strings.Contains(stderr, "--in and --out are required") {
		t.Errorf("convert without --out: exit %d, %s", code, stderr)
	}
}

// TestHelpExamples checks that every subcommand has a one-line summary and
// a --help with at least one example, each example line running that
// subcommand.
func TestHelpExamples(t *testing.T) {
	cmds := newRoot().Commands()
	if len(cmds) < 7 {
		t.Fatalf("%d subcommands, want at least 7", len(cmds))
	}
	for _, c := range cmds {
		if c.Short == "" {
			t.Errorf("goqat %s has no summary", c.Name())
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("goqat %s --help has no example", c.Name())
		}
		for _, line := range strings.Split(strings.TrimSpace(c.Example), "\n") {
			if !strings.Contains(line, "goqat "+c.Name()+" ") && strings.TrimSpace(line) != "goqat "+c.Name() {
				t.Errorf("goqat %s: example %q does not run it", c.Name(), line)
			}
		}
	}
	out, _, code := run(t, "bench", "--help")
	if code != 0 || !strings.Contains(out, "Examples:") {
		t.Errorf("goqat bench --help (exit %d):\n%s", code, out)
	}
}
