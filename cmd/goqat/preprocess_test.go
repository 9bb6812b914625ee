package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestDemoRecordsPreprocessing checks that the demo's three model files
// carry the data's record (datasets.PreprocessingKey): image size, channel
// order and class names, as goqat train writes it.
func TestDemoRecordsPreprocessing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo: skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	so, se, code := run(t, "demo", "--epochs", "1", "--train-limit", "256", "--test-limit", "64", "--qat-epochs", "0",
		"--calibrate", "64", "--verbose", "0", "--out", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, so, se)
	}
	for _, f := range []string{demoFloatFile, demoQATFile, demoInt8File} {
		p, err := datasets.ReadPreprocessing(filepath.Join(dir, f))
		if err != nil || p == nil || p.Kind != "image" || !tensor.Shape(p.Input).Equal([]int{28, 28, 1}) ||
			p.ChannelOrder != "L" || len(p.ClassNames) != 10 || p.ClassNames[0] != "0" {
			t.Errorf("%s records %+v, %v", f, p, err)
		}
	}
}

// TestONNXPreprocessingProps checks that addPreprocessingProps writes a
// model file's record into an ONNX export's metadata_props (the whole
// record and its readable parts), that it survives the file, and that a
// model without a record gets none.
func TestONNXPreprocessingProps(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{12, 12, 3}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := &datasets.Dataset{Name: "p", X: tensor.New(1, 12, 12, 3), Y: tensor.New(1), Classes: 3, ClassNames: []string{"cat", "dog, big", "emu"}}
	path := filepath.Join(dir, "m.safetensors")
	df := dataFlags{input: "12x12", kind: datasets.KindImageFolder}
	if err := df.saveModel(path, m, d); err != nil {
		t.Fatal(err)
	}
	mp, _, err := exportONNX(path, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := addPreprocessingProps(path, mp); err != nil {
		t.Fatal(err)
	}
	onnxPath := filepath.Join(dir, "m.onnx")
	if err := onnx.WriteFile(onnxPath, mp); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.ReadFile(onnxPath, onnx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, p := range back.GetMetadataProps() {
		props[p.GetKey()] = p.GetValue()
	}
	for k, want := range map[string]string{
		"goqat.input_size":    "12x12",
		"goqat.channel_order": "RGB",
		"goqat.fit":           "crop",
		"goqat.mean":          "0,0,0",
		"goqat.std":           "1,1,1",
		"goqat.class_names":   `["cat","dog, big","emu"]`,
		"goqat_kind":          "float",
	} {
		if props[k] != want {
			t.Errorf("metadata_props %s = %q, want %q", k, props[k], want)
		}
	}
	var rec datasets.Preprocessing
	if err := json.Unmarshal([]byte(props[datasets.PreprocessingKey]), &rec); err != nil || strings.Join(rec.ClassNames, "|") != "cat|dog, big|emu" {
		t.Errorf("metadata_props %s: %v, %+v", datasets.PreprocessingKey, err, rec)
	}
	// Setting a key again replaces it.
	onnx.SetMetadata(mp, "goqat.fit", "pad")
	n := 0
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == "goqat.fit" {
			n++
			if p.GetValue() != "pad" {
				t.Errorf("goqat.fit = %q after SetMetadata", p.GetValue())
			}
		}
	}
	if n != 1 {
		t.Errorf("goqat.fit appears %d times", n)
	}
	// A model without a record: nothing added.
	bare := filepath.Join(dir, "bare.safetensors")
	if err := nn.Save(bare, m); err != nil {
		t.Fatal(err)
	}
	mp2, _, err := exportONNX(bare, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(mp2.GetMetadataProps())
	if err := addPreprocessingProps(bare, mp2); err != nil || len(mp2.GetMetadataProps()) != before {
		t.Errorf("a model without a record: %v, %d props (was %d)", err, len(mp2.GetMetadataProps()), before)
	}
}

// TestExportWritesPreprocessing runs goqat export on a model file that
// records its data preprocessing and checks the ONNX file carries it in
// its metadata_props.
func TestExportWritesPreprocessing(t *testing.T) {
	dir := t.TempDir()
	m, err := models.Build("mnist-cnn", tensor.Shape{12, 12, 3}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := &datasets.Dataset{Name: "p", X: tensor.New(1, 12, 12, 3), Y: tensor.New(1), Classes: 3, ClassNames: []string{"cat", "dog", "emu"}}
	path := filepath.Join(dir, "m.safetensors")
	df := dataFlags{input: "12x12", kind: datasets.KindImageFolder}
	if err := df.saveModel(path, m, d); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.onnx")
	if _, se, code := run(t, "export", "--in", path, "--out", out); code != 0 {
		t.Fatalf("export: exit %d: %s", code, se)
	}
	back, err := onnx.ReadFile(out, onnx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range back.GetMetadataProps() {
		if p.GetKey() == datasets.PreprocessingKey && strings.Contains(p.GetValue(), "emu") {
			found = true
		}
	}
	if !found {
		t.Errorf("the exported file's metadata_props %v lack %s with the class names", back.GetMetadataProps(), datasets.PreprocessingKey)
	}
}
