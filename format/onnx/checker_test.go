package onnx

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// checkerScript is scripts/onnx_check.py, relative to this package.
func checkerScript(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "onnx_check.py")
}

// runChecker writes the models to a temporary folder and runs the onnx
// checker (full check) on them through scripts/onnx_check.py with
// /usr/bin/python3; it skips, saying why, when python3 or its onnx
// package is missing.
func runChecker(t *testing.T, models map[string]*onnxpb.ModelProto) {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("onnx checker skipped: /usr/bin/python3 is missing (apt-get install python3-onnx)")
	}
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Skip("onnx checker skipped: /usr/bin/python3 has no onnx package (apt-get install python3-onnx)")
	}
	dir := t.TempDir()
	var paths []string
	for name, mp := range models {
		p := filepath.Join(dir, name+".onnx")
		if err := WriteFile(p, mp); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(py, append([]string{checkerScript(t)}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx checker failed: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "ok ") {
			n++
		}
	}
	if n != len(paths) {
		t.Fatalf("onnx checker passed %d of %d files:\n%s", n, len(paths), out)
	}
	t.Logf("onnx checker:\n%s", out)
}
