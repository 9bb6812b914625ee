package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestTFLiteExportImport converts a float mnist-cnn with --ptq, exports it
// as .tflite (float edges and --full-integer) and the float model too, imports the file, checks
// that the imported model has the integer model's ops and
// that bench and inspect read the .tflite directly; bad inputs are
// one-line errors.
func TestTFLiteExportImport(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	ip := filepath.Join(dir, "m.int8.safetensors")
	if _, se, code := run(t, "convert", "--ptq", "--in", fp, "--out", ip, "--calibration", "random", "--calibration-samples", "32"); code != 0 {
		t.Fatalf("convert --ptq: exit %d: %s", code, se)
	}
	for _, full := range []bool{false, true} {
		tf := filepath.Join(dir, "m.tflite")
		args := []string{"export", "--format", "tflite", "--in", ip, "--out", tf}
		if full {
			args = append(args, "--full-integer")
		}
		so, se, code := run(t, args...)
		if code != 0 || !strings.Contains(so, "TensorFlow Lite schema 3") {
			t.Fatalf("goqat %v: exit %d: %s%s", args, code, so, se)
		}
		back := filepath.Join(dir, "back.int8.safetensors")
		so, se, code = run(t, "import", "--in", tf, "--out", back)
		if code != 0 || !strings.Contains(so, "integer model") {
			t.Fatalf("import of the .tflite: exit %d: %s%s", code, so, se)
		}
		a, err := lite.Load(ip)
		if err != nil {
			t.Fatal(err)
		}
		b, err := lite.Load(back)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := lite.IsFile(tf); !ok || err != nil {
			t.Errorf("lite.IsFile(.tflite) = %v, %v", ok, err)
		}
		want := len(a.Ops)
		if full {
			want -= 2 // no QUANTIZE, DEQUANTIZE
		}
		if len(b.Ops) != want {
			t.Errorf("full-integer %v: %d ops imported, want %d", full, len(b.Ops), want)
		}
		if so, se, code := run(t, "inspect", tf); code != 0 || !strings.Contains(so, "Integer model") {
			t.Errorf("inspect of the .tflite: exit %d: %s%s", code, so, se)
		}
		if _, se, code := run(t, "bench", "--model", tf, "--batch", "1", "--min-time", "20ms"); code != 0 {
			t.Errorf("bench of the .tflite: exit %d: %s", code, se)
		}
		if !full {
			// eval reads the .tflite as it reads goqat's own integer files.
			so, se, code := run(t, "eval", "--model", tf, "--data", "mnist")
			if code != 0 || !strings.Contains(so, "ccuracy") {
				t.Errorf("eval of the .tflite: exit %d: %s%s", code, so, se)
			}
		}
	}
	if so, se, code := run(t, "export", "--format", "tflite", "--in", fp, "--out", filepath.Join(dir, "float.tflite")); code != 0 || !strings.Contains(so, "float32") {
		t.Errorf("float export: exit %d: %s%s", code, so, se)
	}
	if so, se, code := run(t, "import", "--in", filepath.Join(dir, "float.tflite"), "--out", filepath.Join(dir, "float2.safetensors")); code != 0 || !strings.Contains(so, "float model") {
		t.Errorf("float import: exit %d: %s%s", code, so, se)
	}
	garbage := filepath.Join(dir, "garbage.tflite")
	if err := os.WriteFile(garbage, []byte("\x10\x00\x00\x00TFL3\xff\xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"export", "--format", "tflite", "--full-integer", "--in", fp, "--out", filepath.Join(dir, "f.tflite")}, "is a float model"},
		{[]string{"export", "--format", "tflite", "--uint8-activations", "--in", ip, "--out", filepath.Join(dir, "f.tflite")}, "--uint8-activations goes with --format onnx"},
		{[]string{"import", "--in", garbage, "--out", filepath.Join(dir, "g.safetensors")}, "garbage.tflite"},
		{[]string{"inspect", garbage}, "garbage.tflite"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code == 0 {
			t.Errorf("goqat %v: exit 0, want non-zero", c.args)
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "goqat: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("goqat %v: stderr %q, want one 'goqat: ' line mentioning %q", c.args, stderr, c.want)
		}
	}
}
