package plots

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// checkPNG decodes a written chart and checks its size and that it is not
// blank.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	colors := map[uint32]bool{}
	for y := 0; y < h; y += 7 {
		for x := 0; x < w; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colors) < 4 {
		t.Errorf("%s has %d colours: blank chart", path, len(colors))
	}
}

func dir(t *testing.T) string {
	if d := os.Getenv("GOQAT_PLOTS_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

func TestLayers(t *testing.T) {
	var rows []LayerRow
	for i := 0; i < 19; i++ {
		r := LayerRow{Name: fmt.Sprintf("depthwise_conv2d_%d", i), SQNR: 30 + 6*float64(i), Same: 1}
		if i%4 == 1 {
			r.Same, r.Off1, r.OffMore = 0.9, 0.08, 0.02
		}
		rows = append(rows, r)
	}
	rows[3].SQNR = math.Inf(1)
	p := filepath.Join(dir(t), "layers.png")
	if err := Layers(p, "mobilenet-tiny W4A8: QAT vs integer, per layer", rows); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 800, 700)
	if err := Layers(p, "", nil); err == nil {
		t.Error("no error for no layers")
	}
}

func TestCurves(t *testing.T) {
	var fl, fv, q Curve
	fl.Label, fv.Label, q.Label, fv.Dashed = "float train", "float validation", "QAT train", true
	for e := 0; e < 8; e++ {
		fl.Loss, fl.Accuracy = append(fl.Loss, 1/float64(e+1)), append(fl.Accuracy, 1-0.3/float64(e+1))
		fv.Loss, fv.Accuracy = append(fv.Loss, 1.2/float64(e+1)), append(fv.Accuracy, 1-0.35/float64(e+1))
		q.Loss, q.Accuracy = append(q.Loss, 0.15+0.01*float64(e)), append(q.Accuracy, 0.95-0.001*float64(e))
	}
	p := filepath.Join(dir(t), "curves.png")
	if err := Curves(p, "mnist-cnn: float, then QAT", []Curve{fl, fv, q}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 800, 600)
	if err := Curves(p, "", []Curve{{Label: "bad", Loss: []float64{1}}}); err == nil {
		t.Error("no error for mismatched lengths")
	}
}
