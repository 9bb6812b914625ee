package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// writeClassImages writes n images per class into dir/<class>/: "dark"
// images are dim, "light" ones bright, "stripes" alternate by rows, with a
// little per-image variation; PNG, or JPEG for every third image.
func writeClassImages(t *testing.T, dir string, n, side int) {
	t.Helper()
	for _, class := range []string{"dark", "light", "stripes"} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			m := image.NewNRGBA(image.Rect(0, 0, side+i%3, side))
			for y := range side {
				for x := range side + i%3 {
					v := uint8(30 + 5*(i%4))
					switch {
					case class == "light":
						v = uint8(220 - 5*(i%4))
					case class == "stripes" && y%2 == 0:
						v = 240
					}
					m.SetNRGBA(x, y, color.NRGBA{R: v, G: v / 2, B: 255 - v, A: 255})
				}
			}
			name := filepath.Join(dir, class, fmt.Sprintf("%03d.png", i))
			f, err := os.Create(strings.TrimSuffix(name, ".png") + map[bool]string{true: ".jpg", false: ".png"}[i%3 == 2])
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 2 {
				err = jpeg.Encode(f, m, &jpeg.Options{Quality: 95})
			} else {
				err = png.Encode(f, m)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOwnImageFolder trains mnist-cnn on an image folder (three classes,
// PNG and JPEG of mixed widths resized to 16x16 by center crop) with a
// validation split, quantizes it, converts it, evaluates the float and
// integer models on the folder and predicts one image with each kind of
// model, checking the class names and that the three kinds agree. After
// train, the size, fit and classes come from the model files' record.
func TestOwnImageFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model: skipped in -short mode")
	}
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeClassImages(t, photos, 12, 20)
	float, qat, integer := filepath.Join(dir, "f.safetensors"), filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	data := []string{"--data", photos, "--input", "16x16"}
	so, se, code := run(t, append([]string{"train", "--model", "mnist-cnn", "--epochs", "6", "--batch", "9", "--verbose", "0",
		"--validation-split", "0.25", "--out", float}, data...)...)
	if code != 0 || !strings.Contains(so, "27 train, 9 test images") {
		t.Fatalf("train on a folder: exit %d\n%s%s", code, so, se)
	}
	// quantize reads the size from the float model's record.
	if so, se, code = run(t, "quantize", "--in", float, "--epochs", "0", "--calibrate", "36", "--out", qat, "--data", photos); code != 0 {
		t.Fatalf("quantize: exit %d\n%s%s", code, so, se)
	}
	if so, se, code = run(t, append([]string{"convert", "--in", qat, "--out", integer}, data...)...); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	// The model files record the size, fit and classes: eval needs no
	// --input.
	for _, m := range []string{float, integer} {
		so, se, code = run(t, "eval", "--model", m, "--data", photos)
		if code != 0 || !strings.Contains(so, "photos test (36 images)") || !strings.Contains(se, "no test split") || strings.Contains(se, "classes") {
			t.Errorf("eval %s on the folder: exit %d\n%s%s", m, code, so, se)
		}
	}
	for _, m := range []string{float, qat, integer} {
		p, err := datasets.ReadPreprocessing(m)
		if err != nil || p == nil || strings.Join(p.ClassNames, ",") != "dark,light,stripes" || p.Fit != datasets.FitCrop ||
			!tensor.Shape(p.Input).Equal([]int{16, 16, 3}) || p.ChannelOrder != "RGB" {
			t.Errorf("%s records %+v, %v", m, p, err)
		}
	}
	img := filepath.Join(photos, "light", "004.png")
	var tops []string
	for i, m := range []string{float, qat, integer} {
		args := []string{"predict", "--model", m, "--top", "2", "--json", img}
		if i == 1 {
			args = append(args, "--class-names", "dark,light,stripes")
		}
		so, se, code = run(t, args...)
		if code != 0 {
			t.Fatalf("predict %s: exit %d\n%s%s", m, code, so, se)
		}
		var preds []prediction
		if err := json.Unmarshal([]byte(so), &preds); err != nil || len(preds) != 1 || len(preds[0].Classes) != 2 {
			t.Fatalf("predict %s --json: %v\n%s", m, err, so)
		}
		p := preds[0]
		if p.Input != img || p.Classes[0].Probability < p.Classes[1].Probability || p.Classes[0].Probability > 1 {
			t.Errorf("predict %s: %+v", m, p)
		}
		tops = append(tops, p.Classes[0].Name)
	}
	if tops[0] != "light" || tops[1] != tops[2] {
		t.Errorf("top classes float, QAT, integer: %v (want light from the float model; QAT and integer equal)", tops)
	}
	so, se, code = run(t, "predict", "--model", integer, img, filepath.Join(photos, "dark", "000.png"))
	if code != 0 || strings.Count(so, "\n") != 2 || !strings.Contains(so, "000.png: ") {
		t.Errorf("predict two images as text: exit %d\n%s%s", code, so, se)
	}
}

// TestOwnTable trains the built-in mlp on a CSV table with string labels,
// quantizes and converts it (a Dense-only network), evaluates the integer
// model and predicts rows of a CSV with the label column left out.
func TestOwnTable(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model: skipped in -short mode")
	}
	dir := t.TempDir()
	table := filepath.Join(dir, "sensors.csv")
	var b strings.Builder
	b.WriteString("temp,kind,humidity,pressure\n")
	for i := range 90 {
		k := i % 3
		fmt.Fprintf(&b, "%.2f,%s,%.2f,%.2f\n", float64(k)*2+float64(i%5)*0.1, []string{"cold", "mild", "hot"}[k], 1-float64(k)*0.5, float64(i%7)*0.01)
	}
	if err := os.WriteFile(table, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	float, qat, integer := filepath.Join(dir, "f.safetensors"), filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	data := []string{"--data", table, "--label-column", "kind"}
	so, se, code := run(t, append([]string{"train", "--model", "mlp", "--hidden", "16,8", "--epochs", "30", "--batch", "16", "--lr", "0.02",
		"--verbose", "0", "--validation-split", "0.2", "--out", float}, data...)...)
	if code != 0 || !strings.Contains(so, "72 train, 18 test") {
		t.Fatalf("train mlp on a CSV: exit %d\n%s%s", code, so, se)
	}
	if so, se, code = run(t, append([]string{"quantize", "--in", float, "--epochs", "2", "--batch", "16", "--verbose", "0", "--out", qat}, data...)...); code != 0 {
		t.Fatalf("quantize: exit %d\n%s%s", code, so, se)
	}
	if so, se, code = run(t, append([]string{"convert", "--in", qat, "--out", integer}, data...)...); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
	qo, _, _ := run(t, append([]string{"eval", "--model", qat}, data...)...)
	so, se, code = run(t, append([]string{"eval", "--model", integer}, data...)...)
	acc := func(s string) string { return s[strings.LastIndex(s, "accuracy"):] }
	if code != 0 || !strings.Contains(qo, "accuracy") || acc(qo) != acc(so) || !strings.Contains(so, "100.00%") {
		t.Errorf("eval QAT and integer on the table (want 100%% both):\n%s%s%s", qo, so, se)
	}
	rows := filepath.Join(dir, "new.csv")
	if err := os.WriteFile(rows, []byte("temp,kind,humidity,pressure\n4.1,hot,0.0,0.02\n0.1,cold,1.0,0.05\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	so, se, code = run(t, "predict", "--model", integer, "--csv", rows, "--label-column", "kind", "--top", "1")
	if code != 0 || !strings.Contains(so, "new.csv:2 (label hot): hot ") || !strings.Contains(so, "new.csv:3 (label cold): cold ") {
		t.Errorf("predict --csv: exit %d\n%s%s", code, so, se)
	}
}

// TestDataErrors checks that bad data paths and flags end with one line on
// stderr and a non-zero exit.
func TestDataErrors(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeClassImages(t, photos, 2, 8)
	bad := filepath.Join(photos, "dark", "zz.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(txt, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.csv")
	if err := os.WriteFile(short, []byte("a,b,c\n1,2,x\n3,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.csv")
	if err := os.WriteFile(good, []byte("a,b,c\n1,2,x\n3,4,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.safetensors")
	m, err := models.Build("mlp", tensor.Shape{4}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Save(model, m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", model, "--data", "imagenet"}, `unknown data set "imagenet"`},
		{[]string{"eval", "--model", model, "--data", txt}, "unrecognised file"},
		{[]string{"eval", "--model", model, "--data", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"eval", "--model", model, "--data", photos, "--input", "8x8"}, bad},
		{[]string{"eval", "--model", model, "--data", photos}, "give a size"},
		{[]string{"eval", "--model", model, "--data", short}, "line 3"},
		{[]string{"eval", "--model", model, "--data", photos, "--input", "8x8", "--fit", "squash"}, "--fit"},
		{[]string{"eval", "--model", model, "--data", photos, "--input", "8x8", "--on-bad-file", "maybe"}, "--on-bad-file"},
		{[]string{"eval", "--model", model, "--validation-split", "1.5"}, "--validation-split"},
		{[]string{"eval", "--model", model, "--data", good, "--input", "8x8"}, "feature vectors"},
		{[]string{"eval", "--model", model, "--data", "mnist", "--label-column", "x"}, "--label-column"},
		{[]string{"predict", "--model", model}, "image files or --csv"},
		{[]string{"predict", "--model", model, "--csv", short, "x.png"}, "image files or --csv"},
		{[]string{"predict", "--model", model, "--top", "0", "x.png"}, "--top"},
		{[]string{"predict", "--model", model, "x.png"}, "give --csv"},
		{[]string{"predict", "--model", model, "--csv", short}, `line 2: column "c"`},
		{[]string{"predict", "--model", model, "--csv", good, "--label-column", "c"}, "rows of 2 features, the model takes 4"},
		{[]string{"predict", "--model", model, "--class-names", "a,b", "--csv", short}, "names 2 classes, the model has 3"},
	} {
		_, se, code := run(t, c.args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") > 0 || strings.Contains(se, "panic") {
			t.Errorf("goqat %v: exit %d, stderr %q (want one line mentioning %q)", c.args, code, se, c.want)
		}
	}
}

// TestDataFlagsLoad checks dataFlags.load directly: the built-in sets keep
// zero padding as the default --fit and resize with --fit stretch; an image
// folder splits by --validation-split or validates on --val-data, whose
// classes must match.
func TestDataFlagsLoad(t *testing.T) {
	base := func() dataFlags {
		return dataFlags{name: "mnist", trainLimit: 8, testLimit: 4, onBadFile: "fail", splitSeed: 1}
	}
	f := base()
	f.input = "32x32"
	train, test, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	orig, _, _ := datasets.MNIST()
	want, err := datasets.PadTo(orig.Take(8), 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !train.X.Shape.Equal([]int{8, 32, 32, 1}) || test.Len() != 4 || !slices.Equal(train.X.Data, want.X.Data) {
		t.Errorf("mnist --input 32x32: %v, not PadTo's images", train.X.Shape)
	}
	f = base()
	f.input, f.fit = "14x14", "stretch"
	if train, _, err = f.load(); err != nil || !train.X.Shape.Equal([]int{8, 14, 14, 1}) {
		t.Errorf("mnist --input 14x14 --fit stretch: %v %v", train, err)
	}

	dir := t.TempDir()
	photos, val, other := filepath.Join(dir, "photos"), filepath.Join(dir, "val"), filepath.Join(dir, "other")
	writeClassImages(t, photos, 4, 8)
	writeClassImages(t, val, 2, 8)
	writeClassImages(t, other, 1, 8)
	if err := os.RemoveAll(filepath.Join(other, "dark")); err != nil {
		t.Fatal(err)
	}
	f = dataFlags{name: photos, input: "8x8", onBadFile: "fail", splitSeed: 1, valSplit: 0.25}
	if train, test, err = f.load(); err != nil || train.Len() != 9 || test.Len() != 3 || f.kind != datasets.KindImageFolder {
		t.Errorf("--validation-split 0.25 of 12 images: %v %v %v", train, test, err)
	}
	f = dataFlags{name: photos, input: "8x8", onBadFile: "fail", splitSeed: 1, valData: val}
	if train, test, err = f.load(); err != nil || train.Len() != 12 || test.Len() != 6 || test.Name != "val" {
		t.Errorf("--val-data: %v %v %v", train, test, err)
	}
	f.valData = other
	if _, _, err = f.load(); err == nil || !strings.Contains(err.Error(), "classes") {
		t.Errorf("--val-data with other classes: %v", err)
	}
}
