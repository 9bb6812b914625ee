package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/safetensors"
)

// runEnv is run with extra environment variables.
func runEnv(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running goqat %v: %v", args, err)
	}
	return errb.String(), code
}

// TestMaxMemory checks the resource bounds through the binary
// (docs/RELIABILITY.md, Resource bounds): a batch over the memory limit is
// refused with one line before anything is allocated (bench --batch
// 100000000 used to die with a goroutine trace), --max-memory and
// GOQAT_MAX_MEMORY set the limit, and an integer model whose Pad wraps its
// shape arithmetic is refused at load (eval used to panic).
func TestMaxMemory(t *testing.T) {
	dir := t.TempDir()
	float, _, integer := tinyModels(t, dir)
	wrapped := filepath.Join(dir, "pad.safetensors")
	writeWrappedPad(t, wrapped)
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"bench", "--model", float, "--batch", "100000000"}, "--batch 100000000: " + float + " needs"},
		{nil, []string{"bench", "--model", integer, "--batch", "100000000"}, "--max-memory"},
		{nil, []string{"bench", "--model", float, "--batch", "1", "--max-memory", "64KiB"}, "over the limit of 64.0 KiB"},
		{[]string{"GOQAT_MAX_MEMORY=8KiB"}, []string{"eval", "--model", integer, "--test-limit", "10"}, "over the limit of 8.0 KiB"},
		{nil, []string{"eval", "--model", float, "--max-memory", "lots"}, `"lots" is not a byte count`},
		{nil, []string{"eval", "--model", wrapped, "--test-limit", "10"}, "bad padding"},
	}
	for _, c := range cases {
		stderr, code := runEnv(t, c.env, c.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		switch {
		case code == 0:
			t.Errorf("goqat %v: exit 0, want an error", c.args)
		case len(lines) != 1 || !strings.HasPrefix(lines[0], "goqat: ") || strings.Contains(stderr, "goroutine"):
			t.Errorf("goqat %v: stderr is not one 'goqat: ' line:\n%s", c.args, stderr)
		case !strings.Contains(stderr, c.want):
			t.Errorf("goqat %v: stderr %q does not mention %q", c.args, stderr, c.want)
		}
	}
	// Raised, the same eval runs.
	if stderr, code := runEnv(t, []string{"GOQAT_MAX_MEMORY=8KiB"}, "eval", "--model", integer, "--test-limit", "10", "--max-memory", "1GiB"); code != 0 {
		t.Errorf("eval with --max-memory 1GiB over GOQAT_MAX_MEMORY=8KiB: exit %d: %s", code, stderr)
	}
}

// writeWrappedPad writes an integer model whose Pad has pads near 2^63:
// 4 + (2^63-1) + (2^63-1) wraps to 2, the output shape it declares.
func writeWrappedPad(t *testing.T, path string) {
	t.Helper()
	tensor := func(name string, shape ...int) lite.Tensor {
		return lite.Tensor{Name: name, Shape: shape, DType: lite.Int8, Scale: 0.5, Bits: 8}
	}
	m := &lite.Model{Name: "pad",
		Tensors: []lite.Tensor{{Name: "x", Shape: []int{4, 4, 1}, DType: lite.Float32}, tensor("q", 4, 4, 1), tensor("p", 2, 4, 1), {Name: "y", Shape: []int{2, 4, 1}, DType: lite.Float32}},
		Ops: []lite.Op{{Type: lite.OpQuantize, Name: "q", Inputs: []int{0}, Output: 1},
			{Type: lite.OpPad, Name: "p", Inputs: []int{1}, Output: 2, Pad: [4]int{math.MaxInt64, math.MaxInt64, 0, 0}},
			{Type: lite.OpDequantize, Name: "y", Inputs: []int{2}, Output: 3}},
		Inputs: []int{0}, Outputs: []int{3}}
	hdr, err := json.Marshal(map[string]any{"version": 1, "model": m})
	if err != nil {
		t.Fatal(err)
	}
	f := &safetensors.File{Metadata: map[string]string{lite.MetadataKey: string(hdr)}, Tensors: map[string]safetensors.Tensor{}}
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
}
