package onnx

import (
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/tensor"
)

// TestExportFloatChecker exports the built-in models and checks them with
// the onnx checker.
func TestExportFloatChecker(t *testing.T) {
	out := map[string]*onnxpb.ModelProto{}
	for _, name := range models.Names() {
		m, err := models.Build(name, tensor.Shape{28, 28, 1}, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		mp, err := ExportFloat(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mp.GetProducerName() != "goqat" || mp.GetOpsetImport()[0].GetVersion() != Opset {
			t.Errorf("%s: producer %q opset %d", name, mp.GetProducerName(), mp.GetOpsetImport()[0].GetVersion())
		}
		in := mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()
		if in[0].GetDimParam() != "N" || in[3].GetDimValue() != 1 {
			t.Errorf("%s: input dims %v, want (N, 28, 28, 1)", name, in)
		}
		out[name] = mp
	}
	runChecker(t, out)
}
