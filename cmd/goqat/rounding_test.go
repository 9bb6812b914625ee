package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestConvertRoundingFlag converts with --rounding tflite and checks that
// the model is saved in that mode, that export says how to run a model of
// goqat's rounding as TFLite does, that importing the .tflite gives the
// tflite mode, and that an unknown mode is a one-line error.
func TestConvertRoundingFlag(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(dir, "float.safetensors")
	if err := nn.Save(fp, m); err != nil {
		t.Fatal(err)
	}
	for _, r := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
		ip := filepath.Join(dir, "m"+r.String()+".int8.safetensors")
		so, se, code := run(t, "convert", "--ptq", "--in", fp, "--out", ip, "--calibration", "random", "--calibration-samples", "16", "--rounding", r.String())
		if code != 0 {
			t.Fatalf("convert --rounding %s: exit %d: %s", r, code, se)
		}
		if strings.Contains(so, "rounding tflite") != (r == lite.RoundingTFLite) {
			t.Errorf("convert --rounding %s printed:\n%s", r, so)
		}
		im, err := lite.Load(ip)
		if err != nil {
			t.Fatal(err)
		}
		if im.Rounding != r {
			t.Errorf("convert --rounding %s saved rounding %q", r, im.Rounding)
		}
		tf := filepath.Join(dir, "m"+r.String()+".tflite")
		so, se, code = run(t, "export", "--format", "tflite", "--in", ip, "--out", tf)
		if code != 0 {
			t.Fatalf("export: exit %d: %s", code, se)
		}
		if strings.Contains(so, "note:") != (r == lite.RoundingGoqat) {
			t.Errorf("export of a model in rounding %s printed:\n%s", r, so)
		}
		// Import: goqat's fast rounding by default, TFLite's on request.
		for _, ir := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
			back := filepath.Join(dir, "back"+r.String()+ir.String()+".int8.safetensors")
			args := []string{"import", "--in", tf, "--out", back}
			if ir != lite.RoundingGoqat {
				args = append(args, "--rounding", ir.String())
			}
			if _, se, code := run(t, args...); code != 0 {
				t.Fatalf("import: exit %d: %s", code, se)
			}
			b, err := lite.Load(back)
			if err != nil {
				t.Fatal(err)
			}
			if b.Rounding != ir {
				t.Errorf("import %v: rounding %q, want %q", args[5:], b.Rounding, ir)
			}
		}
	}
	_, se, code := run(t, "convert", "--ptq", "--in", fp, "--out", filepath.Join(dir, "x.safetensors"), "--calibration", "random", "--rounding", "bankers")
	if code == 0 || !strings.Contains(se, "--rounding") || strings.Count(strings.TrimSpace(se), "\n") > 0 {
		t.Errorf("convert --rounding bankers: exit %d: %q", code, se)
	}
}
