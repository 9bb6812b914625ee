package onnx

import (
	"context"
	"math"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// checkQDQAgainstEngine quantizes the float model m (8-bit, calibrated on
// 64 synthetic images), converts it and exports it as QDQ, runs the integer
// engine and the test evaluator on x, and requires the exported graph's
// output codes to be within one step of the engine's on 99% of the values
// and identical on 90% (as TestEvalExportInteger). It returns the QDQ model
// for the caller's own checks.
func checkQDQAgainstEngine(t *testing.T, what string, m *nn.Model, x *tensor.Tensor) *onnxpb.ModelProto {
	t.Helper()
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Calibrate(context.Background(), q, images(64, 2), 32); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := ExportInteger(im)
	if err != nil {
		t.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	it.KeepTensors() // tensors compared op by op
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	codes := it.OutputInt8(0).Data
	in := &rtensor{dt: onnxpb.TensorProto_FLOAT, shape: x.Shape}
	for _, v := range x.Data {
		in.v = append(in.v, float64(v))
	}
	outs, err := evalGraph(ip.GetGraph(), map[string]*rtensor{ip.GetGraph().GetInput()[0].GetName(): in})
	if err != nil {
		t.Fatal(err)
	}
	ot := &im.Tensors[im.Outputs[0]]
	for _, op := range im.Ops {
		if op.Output == im.Outputs[0] && op.Type == lite.OpDequantize {
			ot = &im.Tensors[op.Inputs[0]]
		}
	}
	same, within := 0, 0
	for i, w := range codes {
		d := math.Abs(outs[0].v[i]/float64(ot.Scale) + float64(ot.ZeroPoint) - float64(w))
		if d < 1e-3 {
			same++
		}
		if d <= 1+1e-3 {
			within++
		}
	}
	t.Logf("%s: %d of %d outputs identical, %d within one step", what, same, len(codes), within)
	if n := float64(len(codes)); float64(within) < 0.99*n || float64(same) < 0.9*n {
		t.Errorf("%s: only %d identical and %d within one step of %d outputs", what, same, within, len(codes))
	}
	return ip
}
