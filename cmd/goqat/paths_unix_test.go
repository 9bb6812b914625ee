//go:build unix

package main

import (
	"bytes"
	encbin "encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/nn"
)

// runIn is run with the working folder dir.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running goqat %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// writeIDXSet writes the four IDX files of an MNIST-style set with nTrain
// and nTest 28x28 images (labels i mod 10) into dir.
func writeIDXSet(t *testing.T, dir string, nTrain, nTest int) {
	t.Helper()
	idx := func(dims ...int) []byte {
		b := []byte{0, 0, 8, byte(len(dims))}
		n := 1
		for _, d := range dims {
			b = encbin.BigEndian.AppendUint32(b, uint32(d))
			n *= d
		}
		for i := range n {
			v := byte(i % 251)
			if len(dims) == 1 {
				v = byte(i % 10)
			}
			b = append(b, v)
		}
		return b
	}
	for name, data := range map[string][]byte{
		"train-images-idx3-ubyte": idx(nTrain, 28, 28),
		"train-labels-idx1-ubyte": idx(nTrain),
		"t10k-images-idx3-ubyte":  idx(nTest, 28, 28),
		"t10k-labels-idx1-ubyte":  idx(nTest),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot returns the names and contents of the files in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range es {
		if e.IsDir() {
			out[e.Name()] = "folder"
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b = []byte("unreadable: " + err.Error())
		}
		out[e.Name()] = string(b)
	}
	return out
}

// TestOutputIsInput runs every command with an output path that is one of
// its inputs: the same name, another relative name and a symlink. Each
// refuses with one line before doing anything, and every input keeps its
// bytes (no file in the folder changes, none is added).
func TestOutputIsInput(t *testing.T) {
	dir := t.TempDir()
	tinyModels(t, dir) // f.safetensors, q.safetensors, i.safetensors
	m, err := nn.Load(filepath.Join(dir, "f.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := onnx.ExportFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := onnx.WriteFile(filepath.Join(dir, "m.onnx"), mp); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDXSet(t, data, 20, 10)
	ck := filepath.Join(dir, "ck")
	if err := os.Mkdir(ck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ck, "checkpoint.safetensors"), []byte("a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	fashion := []string{"--data", "fashion", "--data-dir", "data"}
	// Each case names the input that the output flag, given last, repeats.
	cases := []struct {
		args  []string
		input string
	}{
		{[]string{"convert", "--in", "q.safetensors", "--out"}, "q.safetensors"},
		{[]string{"convert", "--ptq", "--in", "f.safetensors", "--out"}, "f.safetensors"},
		{append([]string{"convert", "--ptq", "--in", "f.safetensors"}, append(fashion, "--out")...), "data/train-images-idx3-ubyte"},
		{[]string{"quantize", "--in", "f.safetensors", "--out"}, "f.safetensors"},
		{[]string{"quantize", "--in", "f.safetensors", "--out", "x.safetensors", "--json"}, "f.safetensors"},
		{append([]string{"quantize", "--in", "f.safetensors", "--out", "x.safetensors"}, append(fashion, "--json")...), "data/t10k-labels-idx1-ubyte"},
		{[]string{"quantize", "--in", "f.safetensors", "--checkpoint-dir", "ck", "--out"}, "ck/checkpoint.safetensors"},
		{[]string{"train", "--checkpoint-dir", "ck", "--out"}, "ck/checkpoint.safetensors"},
		{append([]string{"train"}, append(fashion, "--out")...), "data/t10k-images-idx3-ubyte"},
		{[]string{"export", "--in", "f.safetensors", "--out"}, "f.safetensors"},
		{[]string{"export", "--in", "i.safetensors", "--out"}, "i.safetensors"},
		{[]string{"import", "--in", "m.onnx", "--out"}, "m.onnx"},
		{[]string{"eval", "--model", "f.safetensors", "--json"}, "f.safetensors"},
		{[]string{"eval", "--model", "i.safetensors", "--json"}, "i.safetensors"},
		{append([]string{"eval", "--model", "f.safetensors"}, append(fashion, "--json")...), "data/train-labels-idx1-ubyte"},
		{[]string{"bench", "--model", "f.safetensors", "--json"}, "f.safetensors"},
		{[]string{"bench", "--model", "f.safetensors", "--int8", "i.safetensors", "--json"}, "i.safetensors"},
		{[]string{"inspect", "--compare", "q.safetensors", "i.safetensors", "--png"}, "q.safetensors"},
		{[]string{"inspect", "--compare", "q.safetensors", "i.safetensors", "--png"}, "i.safetensors"},
		{append([]string{"demo"}, append(fashion, "--out", "demo", "--json")...), "data/t10k-images-idx3-ubyte"},
	}
	before := map[string]map[string]string{".": snapshot(t, dir), "data": snapshot(t, data), "ck": snapshot(t, ck)}
	for _, c := range cases {
		link := "link-" + filepath.Base(c.input)
		if err := os.Symlink(filepath.Join(dir, c.input), filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
		rel := "./" + filepath.Join("data", "..", c.input)
		for _, out := range []string{c.input, rel, link, filepath.Join(dir, c.input)} {
			args := append(slices.Clone(c.args), out)
			_, se, code := runIn(t, dir, args...)
			if code == 0 || !strings.Contains(se, "would overwrite the input") || strings.Count(strings.TrimSpace(se), "\n") != 0 {
				t.Errorf("goqat %s: exit %d, stderr %q", strings.Join(args, " "), code, se)
			}
		}
		if err := os.Remove(filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Join(dir, "demo")) // the demo creates its output folder
	for sub, want := range before {
		got := snapshot(t, filepath.Join(dir, sub))
		for name, b := range want {
			if got[name] != b {
				t.Errorf("%s/%s changed", sub, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s was created", sub, name)
			}
		}
	}
	// Two outputs that are the same file.
	for _, args := range [][]string{
		{"quantize", "--in", "f.safetensors", "--out", "x.json", "--json", "x.json"},
		{"demo", "--out", "d", "--json", "d/float.safetensors"},
	} {
		_, se, code := runIn(t, dir, args...)
		if code == 0 || !strings.Contains(se, "are the same file") {
			t.Errorf("goqat %s: exit %d, stderr %q", strings.Join(args, " "), code, se)
		}
	}
}

// TestOutputChecked gives train, quantize and the other writers an output
// in a missing folder, an existing folder and a read-only folder: each
// fails at once, before any work, with one line naming the problem.
func TestOutputChecked(t *testing.T) {
	dir := t.TempDir()
	float, qat, integer := tinyModels(t, dir)
	missing := filepath.Join(dir, "missing", "x.safetensors")
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--out", missing}, "folder " + filepath.Dir(missing) + " does not exist"},
		{[]string{"quantize", "--in", float, "--out", missing}, "does not exist"},
		{[]string{"quantize", "--in", float, "--json", missing}, "--json " + missing + ": folder"},
		{[]string{"train", "--out", dir}, "--out " + dir + " is a folder"},
		{[]string{"train", "--out", "/"}, "--out / is a folder"},
		{[]string{"quantize", "--in", float, "--out", dir}, "is a folder"},
		{[]string{"convert", "--in", qat, "--out", dir}, "is a folder"},
		{[]string{"export", "--in", float, "--out", dir}, "is a folder"},
		{[]string{"import", "--in", "m.onnx", "--out", dir}, "is a folder"},
		{[]string{"eval", "--model", integer, "--json", dir}, "is a folder"},
		{[]string{"bench", "--model", integer, "--json", missing}, "does not exist"},
		{[]string{"inspect", "--compare", qat, integer, "--png", dir}, "is a folder"},
		{[]string{"train", "--out", "/dev/null"}, "is not a regular file"},
		{[]string{"demo", "--out", float}, "is not a folder"},
		{[]string{"train", "--out", ""}, "--out must name"},
		{[]string{"quantize", "--in", float, "--out", ""}, "--out must name"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"train", "--out", filepath.Join(ro, "x.safetensors")}, "cannot write in folder " + ro})
	}
	for _, c := range cases {
		out, se, code := run(t, c.args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") != 0 {
			t.Errorf("goqat %v: exit %d, stderr %q, want one line containing %q", c.args, code, se, c.want)
		}
		if strings.Contains(out, "Training") || strings.Contains(out, "PTQ") {
			t.Errorf("goqat %v started working before failing:\n%s", c.args, out)
		}
	}
	if es, _ := os.ReadDir(ro); len(es) != 0 {
		t.Errorf("the read-only folder holds %d files", len(es))
	}
}

// TestSaveModelFallback: when the save at the end of a long run fails, the
// model is saved in the temporary folder and the error says where.
func TestSaveModelFallback(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	float, _, _ := tinyModels(t, dir)
	m, err := nn.Load(float)
	if err != nil {
		t.Fatal(err)
	}
	err = saveModel("--out", filepath.Join(dir, "gone", "x.safetensors"), m)
	if err == nil {
		t.Fatal("saving in a missing folder succeeded")
	}
	msg := err.Error()
	i := strings.Index(msg, "the model is saved in ")
	if i < 0 || !strings.Contains(msg, "--out "+filepath.Join(dir, "gone", "x.safetensors")) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q", msg)
	}
	saved := strings.TrimSuffix(msg[i+len("the model is saved in "):], " instead")
	if filepath.Dir(saved) != tmp || !strings.HasSuffix(saved, "x.safetensors") {
		t.Errorf("saved in %s, want a file in %s", saved, tmp)
	}
	back, err := nn.Load(saved)
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary() != m.Summary() {
		t.Error("the saved model differs")
	}
	if err := saveModel("--out", filepath.Join(dir, "ok.safetensors"), m); err != nil {
		t.Errorf("a save that works: %v", err)
	}
}
