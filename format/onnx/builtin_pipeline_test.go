package onnx

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/tensor"
)

// builtinNet is a built-in network of models and the input it is taken
// through the pipeline at: reduced (width, resolution) in CI, the
// network's canonical input with GOQAT_PIPELINE_FULL=1.
type builtinNet struct {
	name  string
	in    tensor.Shape // reduced input (H, W, C)
	alpha float64      // reduced width multiplier (0: none)
}

// builtinNets lists every built-in network. The reduced inputs keep each
// network's structure (every stride, every block) at a fraction of the
// work.
var builtinNets = []builtinNet{
	{name: "mlp", in: tensor.Shape{28, 28, 1}},
	{name: "mnist-cnn", in: tensor.Shape{28, 28, 1}},
	{name: "mobilenet-tiny", in: tensor.Shape{28, 28, 1}},
	{name: "mobilenet-v1", in: tensor.Shape{64, 64, 3}, alpha: 0.25},
	{name: "mobilenet-v2", in: tensor.Shape{64, 64, 3}, alpha: 0.35},
	{name: "resnet18", in: tensor.Shape{32, 32, 3}},
	{name: "resnet20", in: tensor.Shape{32, 32, 3}},
	{name: "resnet50", in: tensor.Shape{32, 32, 3}},
	{name: "squeezenet", in: tensor.Shape{64, 64, 3}},
}

// TestBuiltinPipeline takes every built-in network (models.AllNames)
// through the steps of TestTorchvisionPipeline: quantize.Model, calibration
// and one QAT step on random images, convert.Convert, the integer
// interpreter against the QAT model (top-1 and codes on 99.9%), the QDQ
// export op by op in ONNX Runtime and the test evaluator, and end to end in
// ONNX Runtime where the network's sensitivity allows (see
// pipelineQuantized). The networks run at reduced inputs (builtinNets);
// GOQAT_PIPELINE_FULL=1 runs them at their canonical ones (224x224x3 and
// 1000 classes for the ImageNet networks). Skipped in -short mode.
func TestBuiltinPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes, trains and converts every built-in network: skipped in -short mode")
	}
	full := os.Getenv("GOQAT_PIPELINE_FULL") == "1"
	names := map[string]bool{}
	for _, n := range models.AllNames() {
		names[n] = true
	}
	ort, noORT := ortPath()
	qdq := map[string]*onnxpb.ModelProto{}
	for i, net := range builtinNets {
		if !names[net.name] {
			t.Errorf("builtinNets lists %s, which models does not build", net.name)
			continue
		}
		delete(names, net.name)
		in, classes, _ := models.Canonical(net.name)
		o := models.Options{}
		if !full {
			in, o.Alpha = net.in, net.alpha
		}
		name := fmt.Sprintf("%s_%dx%dx%d", net.name, in[0], in[1], in[2])
		if o.Alpha != 0 {
			name += fmt.Sprintf("_alpha%g", o.Alpha)
		}
		t.Run(name, func(t *testing.T) {
			m, err := models.BuildWith(net.name, in, classes, uint64(100+i), o)
			if err != nil {
				t.Fatal(err)
			}
			qdq[strings.ReplaceAll(name, ".", "_")] = pipelineQuantized(t, name, m, in, nil, uint64(i), ort, noORT)
		})
	}
	for n := range names {
		t.Errorf("built-in network %s is missing from builtinNets", n)
	}
	if len(qdq) > 0 {
		t.Run("onnx checker", func(t *testing.T) { runChecker(t, qdq) })
	}
}
