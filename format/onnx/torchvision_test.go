package onnx

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// torchvisionNet is a network exported by PyTorch's own ONNX exporter
// (scripts/make_torchvision_fixtures.py): NAME.onnx, NAME.input.f32 (NCHW
// images) and NAME.output.f32 (PyTorch's outputs for them).
type torchvisionNet struct {
	name string
	// full: a full-width torchvision network, in GOQAT_TORCHVISION_DIR
	// (too large to commit); otherwise a narrow one in
	// testdata/torchvision.
	full bool
	// lacks says what goqat lacks to import the network, "" if it
	// imports; failsAt is the op type that Import then refuses.
	lacks, failsAt string
}

// torchvisionNets lists the networks of make_torchvision_fixtures.py.
var torchvisionNets = []torchvisionNet{
	{name: "mobilenet_v2"},
	{name: "mobilenet_v3_small"},
	{name: "resnet18_narrow"},
	{name: "resnet50_narrow"},
	{name: "squeezenet1_1_narrow"},
	{name: "shufflenet_v2_narrow"},
	{name: "shufflenet_v2_stride2"},
	{name: "googlenet_narrow"},
	{name: "resnet18", full: true},
	{name: "resnet50", full: true},
	{name: "mobilenet_v2", full: true},
	{name: "mobilenet_v3_small", full: true},
	{name: "squeezenet1_1", full: true},
	{name: "shufflenet_v2_x0_5", full: true},
	{name: "googlenet", full: true},
}

// torchvisionDir returns the folder of a network's files, or skips.
func torchvisionDir(t *testing.T, net torchvisionNet) string {
	t.Helper()
	if !net.full {
		return filepath.Join("testdata", "torchvision")
	}
	dir := os.Getenv("GOQAT_TORCHVISION_DIR")
	if dir == "" {
		t.Skip("full-width torchvision networks skipped: set GOQAT_TORCHVISION_DIR to the folder written by " +
			"/usr/bin/python3 scripts/make_torchvision_fixtures.py --small '' --full DIR")
	}
	return dir
}

// readF32 reads a raw little-endian float32 file.
func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("%s: %d bytes, not float32 values", path, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// rowError returns the largest |got - want| of each row of k values
// divided by that row's largest |want|, the worst over the rows.
func rowError(got, want []float32, k int) float64 {
	worst := 0.0
	for r := 0; r+k <= len(want); r += k {
		scale, d := 0.0, 0.0
		for i := r; i < r+k; i++ {
			scale = max(scale, math.Abs(float64(want[i])))
			d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		}
		worst = max(worst, d/scale)
	}
	return worst
}

// importTorchvision imports a network and returns the model, its input
// images (NHWC) and PyTorch's outputs; it skips a network goqat cannot
// import yet after checking that Import refuses it where expected.
func importTorchvision(t *testing.T, net torchvisionNet) (*nn.Model, *tensor.Tensor, []float32) {
	t.Helper()
	base := filepath.Join(torchvisionDir(t, net), net.name)
	m, err := ImportFile(base + ".onnx")
	switch {
	case err != nil && net.lacks != "" && strings.Contains(err.Error(), fmt.Sprintf("(%s): op type %s is not supported", net.failsAt, net.failsAt)):
		msg, _, _ := strings.Cut(err.Error(), " (supported:")
		t.Skipf("%s does not import: goqat lacks %s (%s)", net.name, net.lacks, msg)
	case err != nil:
		t.Fatal(err)
	case net.lacks != "":
		t.Errorf("%s imports, but torchvisionNets says goqat lacks %s: update it", net.name, net.lacks)
	}
	in := m.Inputs()[0]
	x := nchwToNHWC(readF32(t, base+".input.f32"), in[2], in[0], in[1])
	return m, x, readF32(t, base+".output.f32")
}

// TestImportTorchvision imports networks exported by PyTorch
// (torch.onnx.export, opset 13, random weights) and checks that goqat's
// outputs equal PyTorch's within 1e-4 of each output row's largest
// magnitude, and that the imported model exports again. The narrow
// networks are committed; the full-width ones run when
// GOQAT_TORCHVISION_DIR is set.
func TestImportTorchvision(t *testing.T) {
	for _, net := range torchvisionNets {
		name := net.name
		if net.full {
			name = "full/" + name
		}
		t.Run(name, func(t *testing.T) {
			m, x, want := importTorchvision(t, net)
			got, err := m.Predict(context.Background(), x, x.Shape[0])
			if err != nil {
				t.Fatal(err)
			}
			if got.Size() != len(want) {
				t.Fatalf("output %v, PyTorch has %d values", got.Shape, len(want))
			}
			d := rowError(got.Data, want, len(want)/x.Shape[0])
			t.Logf("%s: %d layers, max error %.2g of the row maximum", name, len(m.Layers()), d)
			if d > 1e-4 {
				t.Errorf("goqat differs from PyTorch by %.3g of the row maximum (criterion 1e-4)", d)
			}
			if _, err := ExportFloat(m); err != nil {
				t.Errorf("the imported model does not export: %v", err)
			}
		})
	}
}

// ortDir returns the folder where scripts/onnx_conformance.sh installs
// onnxruntime-node, or skips when node or ONNX Runtime is missing.
func ortDir(t *testing.T) string {
	t.Helper()
	dir, why := ortPath()
	if dir == "" {
		t.Skip(why)
	}
	return dir
}

// ortPath returns the folder where scripts/onnx_conformance.sh installs
// onnxruntime-node, or "" and why when node or ONNX Runtime is missing.
func ortPath() (dir, why string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "ONNX Runtime comparison skipped: node is not installed"
	}
	dir = os.Getenv("GOQAT_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "ONNX Runtime comparison skipped: no home folder"
		}
		dir = filepath.Join(home, ".cache", "goqat")
	}
	dir = filepath.Join(dir, "ort")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return "", fmt.Sprintf("ONNX Runtime comparison skipped: onnxruntime-node is not installed in %s (scripts/onnx_conformance.sh installs it)", dir)
	}
	return dir, ""
}

// TestTorchvisionONNXRuntime runs the networks of TestImportTorchvision in
// ONNX Runtime for Node.js (scripts/onnx_conformance.js, all graph
// optimizations) and checks that its outputs equal PyTorch's and, for the
// networks goqat imports, goqat's, within 1e-4 of each row's largest
// magnitude. It skips without node and onnxruntime-node (installed by
// scripts/onnx_conformance.sh), and in -short mode.
func TestTorchvisionONNXRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime comparison skipped in -short mode (one node process per network)")
	}
	ort := ortDir(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "onnx_conformance.js")
	for _, net := range torchvisionNets {
		name := net.name
		if net.full {
			name = "full/" + name
		}
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(torchvisionDir(t, net), net.name)
			mp, err := ReadFile(base+".onnx", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var dims []string
			per := 1 // values per image
			for _, d := range mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim()[1:] {
				dims = append(dims, strconv.FormatInt(d.GetDimValue(), 10))
				per *= int(d.GetDimValue())
			}
			out := filepath.Join(t.TempDir(), "ort.f32")
			// Batch 1: the exported graphs have a fixed batch of 1.
			cmd := exec.Command("node", script, ort, base+".onnx", base+".input.f32", out, "1", strings.Join(dims, "x"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, b)
			}
			got := readF32(t, out)
			want := readF32(t, base+".output.f32")
			if len(got) != len(want) {
				t.Fatalf("ONNX Runtime gave %d values, PyTorch %d", len(got), len(want))
			}
			k := len(want) / (len(readF32(t, base+".input.f32")) / per) // values per output row
			d := rowError(got, want, k)
			msg := fmt.Sprintf("%s: ONNX Runtime vs PyTorch %.2g of the row maximum", name, d)
			if d > 1e-4 {
				t.Errorf("ONNX Runtime differs from PyTorch by %.3g of the row maximum (criterion 1e-4)", d)
			}
			if net.lacks != "" {
				msg += "; goqat does not import it yet"
			} else {
				m, x, _ := importTorchvision(t, net)
				g, err := m.Predict(context.Background(), x, x.Shape[0])
				if err != nil {
					t.Fatal(err)
				}
				dg := rowError(g.Data, got, k)
				msg += fmt.Sprintf("; goqat vs ONNX Runtime %.2g", dg)
				if dg > 1e-4 {
					t.Errorf("goqat differs from ONNX Runtime by %.3g of the row maximum (criterion 1e-4)", dg)
				}
			}
			t.Log(msg)
		})
	}
}
