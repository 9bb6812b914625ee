package onnx

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// images returns n random 28x28x1 images in [0, 1).
func images(n int, seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(n, 28, 28, 1)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	return x
}

// intModel builds a built-in model, quantizes it (post-training
// calibration on random images) and converts it.
func intModel(t *testing.T, name string, qopts []quantize.Option, copts ...convert.Option) (*nn.Model, *lite.Model) {
	t.Helper()
	m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.Model(m, qopts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Calibrate(context.Background(), q, images(64, 2), 32); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q, copts...)
	if err != nil {
		t.Fatal(err)
	}
	return m, im
}

// TestExportIntegerChecker exports integer models (default, full
// integer, 4-bit weights and activations) and checks them with the onnx
// checker.
func TestExportIntegerChecker(t *testing.T) {
	out := map[string]*onnxpb.ModelProto{}
	nb, err := quantize.ParseScheme("w4a6", false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, model string
		q           []quantize.Option
		c           []convert.Option
		e           []Option
	}{
		{"mnist-int8", "mnist-cnn", nil, nil, nil},
		{"mobilenet-int8", "mobilenet-tiny", nil, nil, nil},
		{"mobilenet-uint8-acts", "mobilenet-tiny", nil, nil, []Option{Uint8Activations()}},
		{"mnist-full-integer", "mnist-cnn", nil, []convert.Option{convert.FullInteger()}, nil},
		{"mobilenet-w4a6", "mobilenet-tiny", []quantize.Option{quantize.WithScheme(nb)}, nil, nil},
	}
	for _, c := range cases {
		_, im := intModel(t, c.model, c.q, c.c...)
		mp, err := ExportInteger(im, c.e...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out[c.name] = mp
	}
	_, im := intModel(t, "mnist-cnn", nil, convert.FullInteger())
	if _, err := ExportInteger(im, Uint8Activations()); err == nil {
		t.Error("uint8 activations on a full-integer model: no error")
	}
	runChecker(t, out)
}
