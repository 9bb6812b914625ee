package lite_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// mustFail runs f, fails the test if it panics or returns no error, and
// returns the error.
func mustFail(t *testing.T, name string, f func() error) error {
	t.Helper()
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", name, r)
				err = fmt.Errorf("panic")
			}
		}()
		err = f()
	}()
	if err == nil {
		t.Errorf("%s: no error", name)
	}
	return err
}

// badFiles writes files that no loader may accept and returns their paths.
func badFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"empty":     nil,
		"short":     {1, 2, 3},
		"truncated": {200, 0, 0, 0, 0, 0, 0, 0, '{'},
		"huge":      {255, 255, 255, 255, 255, 255, 255, 127, '{', '}'},
		"garbage":   bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100),
		"nometa":    safetensorsBytes(t, &safetensors.File{Tensors: map[string]safetensors.Tensor{"w": safetensors.F32([]int{2}, []float32{1, 2})}}),
		"badjson":   safetensorsBytes(t, &safetensors.File{Metadata: map[string]string{nn.ModelMetadataKey: "{", lite.MetadataKey: "{", "goqat.checkpoint": "{"}}),
		"notobject": safetensorsBytes(t, &safetensors.File{Metadata: map[string]string{nn.ModelMetadataKey: "[1]", lite.MetadataKey: "null", "goqat.checkpoint": "7"}}),
	}
	paths := map[string]string{"missing": filepath.Join(dir, "missing"), "dir": dir}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func safetensorsBytes(t *testing.T, f *safetensors.File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := safetensors.Write(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLoadersRejectBadFiles drives every file loader with missing, empty,
// truncated, oversized and wrong-content files: each returns an error
// naming the file, and none panics.
func TestLoadersRejectBadFiles(t *testing.T) {
	loaders := map[string]func(string) error{
		"nn.Load":                func(p string) error { _, err := nn.Load(p); return err },
		"lite.Load":              func(p string) error { _, err := lite.Load(p); return err },
		"nn.ReadCheckpointInfo":  func(p string) error { _, err := nn.ReadCheckpointInfo(p); return err },
		"safetensors.ReadFile":   func(p string) error { _, err := safetensors.ReadFile(p, safetensors.Limits{}); return err },
		"safetensors.ReadFile/1": func(p string) error { _, err := safetensors.ReadFile(p, safetensors.Limits{MaxHeader: 1}); return err },
	}
	for name, path := range badFiles(t) {
		for lname, load := range loaders {
			if lname == "safetensors.ReadFile" && (name == "nometa" || name == "badjson" || name == "notobject") {
				continue // valid safetensors files
			}
			err := mustFail(t, lname+"("+name+")", func() error { return load(path) })
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%s(%s): error is not one line: %q", lname, name, err)
			}
			if err != nil && !strings.Contains(err.Error(), filepath.Base(path)) {
				t.Errorf("%s(%s): error %q does not name the file", lname, name, err)
			}
		}
	}
}

// TestReadersRejectBadStreams drives the stream readers with empty, short
// and inconsistent input.
func TestReadersRejectBadStreams(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {8, 0, 0, 0, 0, 0, 0, 0}, {2, 0, 0, 0, 0, 0, 0, 0, '{'}, {1, 0, 0, 0, 0, 0, 0, 0, '}'}} {
		r := bytes.NewReader(b)
		mustFail(t, fmt.Sprintf("safetensors.Read(%q)", b), func() error { _, err := safetensors.Read(r, int64(len(b)), safetensors.Limits{}); return err })
		mustFail(t, fmt.Sprintf("lite.Read(%q)", b), func() error { _, err := lite.Read(r, int64(len(b))); return err })
		mustFail(t, fmt.Sprintf("safetensors.Read(%q, size -1)", b), func() error { _, err := safetensors.Read(r, -1, safetensors.Limits{}); return err })
		mustFail(t, fmt.Sprintf("safetensors.Read(%q, size too large)", b), func() error {
			_, err := safetensors.Read(r, int64(len(b))+100, safetensors.Limits{})
			return err
		})
		mustFail(t, fmt.Sprintf("datasets.ReadIDX(%q)", b), func() error { _, err := datasets.ReadIDX(bytes.NewReader(b), 1<<20); return err })
	}
	mustFail(t, "safetensors.Write(nil)", func() error { return safetensors.Write(io.Discard, nil) })
	mustFail(t, "safetensors.Write(bad shape)", func() error {
		return safetensors.Write(io.Discard, &safetensors.File{Tensors: map[string]safetensors.Tensor{"x": {DType: "F32", Shape: []int{3}, Data: []byte{1}}}})
	})
	mustFail(t, "safetensors.Write(bad dtype)", func() error {
		return safetensors.Write(io.Discard, &safetensors.File{Tensors: map[string]safetensors.Tensor{"x": {DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}})
	})
	// IDX: a header claiming more data than there is, or more than allowed.
	idx := []byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3}
	mustFail(t, "datasets.ReadIDX(short data)", func() error { _, err := datasets.ReadIDX(bytes.NewReader(idx), 1<<20); return err })
	huge := []byte{0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}
	mustFail(t, "datasets.ReadIDX(huge dims)", func() error { _, err := datasets.ReadIDX(bytes.NewReader(huge), 1<<20); return err })
	mustFail(t, "datasets.ReadIDX(bad type)", func() error {
		_, err := datasets.ReadIDX(bytes.NewReader([]byte{0, 0, 0x42, 1, 0, 0, 0, 1, 0}), 1<<20)
		return err
	})
}

// TestDatasetLoadersRejectBadInput points the dataset loaders at missing
// and garbage files.
func TestDatasetLoadersRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	mustFail(t, "datasets.Load(unknown)", func() error { _, _, err := datasets.Load("cifar-1000", ""); return err })
	mustFail(t, "datasets.Load(fashion, missing)", func() error { _, _, err := datasets.Load("fashion", filepath.Join(dir, "nope")); return err })
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		for _, ext := range []string{"", ".gz"} {
			if err := os.WriteFile(filepath.Join(dir, name+ext), []byte("garbage, not IDX"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustFail(t, "datasets.FashionMNIST(garbage)", func() error { _, _, err := datasets.FashionMNIST(dir); return err })
	mustFail(t, "datasets.FromIDX(nil)", func() error { _, err := datasets.FromIDX("x", nil, nil, nil); return err })
}

// tinyQAT returns a calibrated QAT model of a small CNN on 8x8x1 inputs.
func tinyQAT(t *testing.T) (*nn.Model, *nn.Model) {
	t.Helper()
	fm, err := nn.NewSequential(tensor.Shape{8, 8, 1}, nn.NewConv2D(4, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	qm, err := quantize.Model(fm)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(16, 8, 8, 1)
	for i := range x.Data {
		x.Data[i] = float32(i%17) / 17
	}
	if err := quantize.Calibrate(context.Background(), qm, x, 8); err != nil {
		t.Fatal(err)
	}
	return fm, qm
}

// TestModelAPIsRejectBadArguments drives the model-level entry points with
// nil, empty and mismatched arguments.
func TestModelAPIsRejectBadArguments(t *testing.T) {
	fm, qm := tinyQAT(t)
	ctx := context.Background()
	mustFail(t, "quantize.Model(nil)", func() error { _, err := quantize.Model(nil); return err })
	mustFail(t, "quantize.Apply(nil)", func() error { _, err := quantize.Apply(nil); return err })
	mustFail(t, "quantize.Model(bad scheme)", func() error {
		_, err := quantize.Model(fm, quantize.WithScheme(quantize.NBit{WeightBits: 1, ActivationBits: 99}))
		return err
	})
	mustFail(t, "quantize.Calibrate(nil)", func() error { return quantize.Calibrate(ctx, nil, nil, 0) })
	mustFail(t, "quantize.Calibrate(empty)", func() error { return quantize.Calibrate(ctx, qm, tensor.New(0, 8, 8, 1), 8) })
	mustFail(t, "quantize.Calibrate(wrong shape)", func() error { return quantize.Calibrate(ctx, qm, tensor.New(2, 4, 4, 1), 8) })
	mustFail(t, "quantize.ParseScheme(junk)", func() error { _, err := quantize.ParseScheme("w9a1x", false); return err })
	mustFail(t, "convert.Convert(nil)", func() error { _, err := convert.Convert(nil); return err })
	mustFail(t, "convert.Convert(float model)", func() error { _, err := convert.Convert(fm); return err })
	mustFail(t, "lite.NewInterpreter(nil)", func() error { _, err := lite.NewInterpreter(nil); return err })
	mustFail(t, "lite.NewInterpreter(empty)", func() error { _, err := lite.NewInterpreter(&lite.Model{}); return err })
	mustFail(t, "lite.Save(nil)", func() error { return lite.Save(filepath.Join(t.TempDir(), "x"), nil) })
	mustFail(t, "lite.Accuracy(nil)", func() error { _, err := lite.Accuracy(nil, nil, nil, 1); return err })
	mustFail(t, "convert.Compare(nil)", func() error { _, err := convert.Compare(nil, nil, nil); return err })
	mustFail(t, "nn.Save(nil)", func() error { return nn.Save(filepath.Join(t.TempDir(), "x"), nil) })
	mustFail(t, "nn.FromSafetensors(nil)", func() error { _, err := nn.FromSafetensors(nil); return err })
	mustFail(t, "nn.NewSequential(no layers)", func() error { _, err := nn.NewSequential(tensor.Shape{2}); return err })
	mustFail(t, "nn.NewSequential(nil layer)", func() error { _, err := nn.NewSequential(tensor.Shape{2}, nil); return err })
	mustFail(t, "nn.NewSequential(bad shape)", func() error { _, err := nn.NewSequential(tensor.Shape{-2}, nn.NewDense(2)); return err })
	mustFail(t, "nn.NewModel(nil)", func() error { _, err := nn.NewModel(nil, nil); return err })
	mustFail(t, "Model.Predict(nil)", func() error { _, err := fm.Predict(ctx, nil, 0); return err })
	mustFail(t, "Model.Predict(wrong shape)", func() error { _, err := fm.Predict(ctx, tensor.New(2, 3), 0); return err })
	mustFail(t, "Model.Forward(no input)", func() error { _, err := fm.Forward(nil); return err })
	mustFail(t, "Model.Forward(wrong shape)", func() error { _, err := fm.Forward(nil, tensor.New(1, 9, 9, 1)); return err })
	mustFail(t, "Model.Fit(not compiled)", func() error { _, err := fm.Fit(ctx, nil, nil, nn.FitOptions{}); return err })
	if err := fm.Compile(nn.CompileOptions{Loss: nn.MeanSquaredError{}}); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "Model.Fit(no optimizer)", func() error { _, err := fm.Fit(ctx, nil, nil, nn.FitOptions{}); return err })
	mustFail(t, "Model.Evaluate(nil)", func() error { _, _, err := fm.Evaluate(ctx, nil, nil, nn.EvaluateOptions{}); return err })
	mustFail(t, "Model.Evaluate(mismatched)", func() error {
		_, _, err := fm.Evaluate(ctx, tensor.New(2, 8, 8, 1), tensor.New(3, 3), nn.EvaluateOptions{})
		return err
	})
	mustFail(t, "Model.Compile(no loss)", func() error { return fm.Compile(nn.CompileOptions{}) })
}

// TestInterpreterRejectsBadInputs checks that the interpreter validates
// the input index, shape, size, batch and dtype.
func TestInterpreterRejectsBadInputs(t *testing.T) {
	_, qm := tinyQAT(t)
	for _, opts := range [][]convert.Option{nil, {convert.FullInteger()}} {
		im, err := convert.Convert(qm, opts...)
		if err != nil {
			t.Fatal(err)
		}
		it, err := lite.NewInterpreter(im)
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, "Invoke before SetInput", it.Invoke)
		mustFail(t, "SetInput(nil)", func() error { return it.SetInput(0, nil) })
		mustFail(t, "SetInput(-1)", func() error { return it.SetInput(-1, tensor.New(1, 8, 8, 1)) })
		mustFail(t, "SetInput(1)", func() error { return it.SetInput(1, tensor.New(1, 8, 8, 1)) })
		mustFail(t, "SetInput(wrong shape)", func() error { return it.SetInput(0, tensor.New(1, 8, 8, 3)) })
		mustFail(t, "SetInput(no batch)", func() error { return it.SetInput(0, tensor.New(8, 8, 1)) })
		mustFail(t, "SetInput(empty batch)", func() error { return it.SetInput(0, tensor.New(0, 8, 8, 1)) })
		mustFail(t, "SetInput(short data)", func() error {
			return it.SetInput(0, &tensor.Tensor{Shape: tensor.Shape{2, 8, 8, 1}, Data: make([]float32, 64)})
		})
		mustFail(t, "SetInput(negative dims)", func() error {
			return it.SetInput(0, &tensor.Tensor{Shape: tensor.Shape{-1, 8, 8, 1}, Data: make([]float32, 64)})
		})
		mustFail(t, "SetInputInt8(nil)", func() error { return it.SetInputInt8(0, nil) })
		mustFail(t, "SetInputInt8(wrong shape)", func() error { return it.SetInputInt8(0, tensor.NewInt8(1, 4)) })
		mustFail(t, "Allocate(0)", func() error { return it.Allocate(0) })
		mustFail(t, "Accuracy(mismatched)", func() error { _, err := lite.Accuracy(im, tensor.New(2, 8, 8, 1), tensor.New(3), 1); return err })
		mustFail(t, "Accuracy(batch 0)", func() error { _, err := lite.Accuracy(im, tensor.New(2, 8, 8, 1), tensor.New(2), 0); return err })
		// A NaN input is data, not an error: it must not crash either.
		x := tensor.New(1, 8, 8, 1)
		x.Data[3] = float32(math.NaN())
		x.Data[4] = float32(math.Inf(1))
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("NaN input panicked: %v", r)
				}
			}()
			if err := it.SetInput(0, x); err != nil {
				return
			}
			if err := it.Invoke(); err != nil {
				t.Errorf("Invoke: %v", err)
			}
			it.Output(0)
		}()
	}
}

// TestNonFiniteScalesRejected checks that NaN and infinite scales, in an
// integer model or coming from NaN weights of a QAT model, are errors.
func TestNonFiniteScalesRejected(t *testing.T) {
	_, qm := tinyQAT(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for name, mut := range map[string]func(m *lite.Model){
		"NaN tensor scale":      func(m *lite.Model) { setScale(m, nan) },
		"Inf tensor scale":      func(m *lite.Model) { setScale(m, inf) },
		"NaN weight scale":      func(m *lite.Model) { setWeightScale(m, nan) },
		"Inf weight scale":      func(m *lite.Model) { setWeightScale(m, inf) },
		"negative weight scale": func(m *lite.Model) { setWeightScale(m, -1) },
	} {
		im, err := convert.Convert(qm)
		if err != nil {
			t.Fatal(err)
		}
		mut(im)
		mustFail(t, name, func() error { _, err := lite.NewInterpreter(im); return err })
		mustFail(t, name+" (Save)", func() error { return lite.Save(filepath.Join(t.TempDir(), "m.safetensors"), im) })
	}
	for _, p := range qm.Params() {
		if strings.HasSuffix(p.Name, "kernel") {
			p.Value.Data[0] = nan
			break
		}
	}
	mustFail(t, "convert.Convert(NaN kernel)", func() error { _, err := convert.Convert(qm); return err })
}

// setWeightScale sets the first weight scale of the first op that has one.
func setWeightScale(m *lite.Model, v float32) {
	for k := range m.Ops {
		if len(m.Ops[k].WeightScales) > 0 {
			m.Ops[k].WeightScales[0] = v
			return
		}
	}
}

// setScale sets the scale of the last int8 tensor.
func setScale(m *lite.Model, v float32) {
	for i := len(m.Tensors) - 1; i >= 0; i-- {
		if m.Tensors[i].DType == lite.Int8 {
			m.Tensors[i].Scale = v
			return
		}
	}
}
