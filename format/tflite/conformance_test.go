package tflite

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// tfliteDir returns the folder holding @tensorflow/tfjs-tflite (installed
// by scripts/tflite_conformance.sh), or skips the test.
func tfliteDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("TFLite conformance: node is not installed")
	}
	dir := os.Getenv("GOQAT_TFLITE_DIR")
	if dir == "" {
		cache := os.Getenv("GOQAT_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "goqat")
		}
		dir = filepath.Join(cache, "tflite")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/@tensorflow/tfjs-tflite/wasm/tflite_web_api_client.js")); err != nil {
		t.Skipf("TFLite conformance: @tensorflow/tfjs-tflite is not installed in %s (scripts/tflite_conformance.sh installs it)", dir)
	}
	return dir
}

// runTFLite runs a .tflite file in TFLite's runtime (scripts/tflite_run.js)
// on n samples of raw input bytes and returns the raw output bytes; extra
// arguments go to the script ("fresh": a new interpreter per sample).
func runTFLite(t *testing.T, dir string, file, in []byte, n int, extra ...string) []byte {
	t.Helper()
	tmp := t.TempDir()
	model, inPath, outPath := filepath.Join(tmp, "m.tflite"), filepath.Join(tmp, "in.bin"), filepath.Join(tmp, "out.bin")
	if err := os.WriteFile(model, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inPath, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", append([]string{"../../scripts/tflite_run.js", dir, model, inPath, outPath, fmt.Sprint(n)}, extra...)...)
	outp, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("TFLite runtime: %v\n%s", err, outp)
	}
	for _, l := range strings.Split(string(outp), "\n") {
		if strings.HasPrefix(l, "tflite_run:") {
			t.Log(l)
		}
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConformance exports every built-in network (int8, full-integer
// edges) and runs it in TFLite's own interpreter on the int8 inputs given
// to goqat's, and reports the share of identical output codes and top-1
// classes. The shallow networks (gated) must agree on >= 99.99% of the
// values and >= 99.9% of the top-1 classes; in the deep ones the rare
// one-step differences of single ops (TestConformanceOps) grow layer
// after layer, and they are reported (docs/tflite.md, Conformance).
// Skipped in -short mode and without node and the @tensorflow/tfjs-tflite
// package.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("trains, converts and runs every built-in network in TFLite: skipped in -short mode")
	}
	if os.Getenv("GOQAT_TFLITE_CONFORMANCE") != "1" {
		t.Skip("TFLite conformance runs with GOQAT_TFLITE_CONFORMANCE=1 (scripts/tflite_conformance.sh)")
	}
	dir := tfliteDir(t)
	only := os.Getenv("GOQAT_TFLITE_NETS")
	for _, net := range testNets {
		if only != "" && !strings.Contains(","+only+",", ","+net.name+",") {
			continue
		}
		t.Run(net.name, func(t *testing.T) {
			n := 100
			if net.name == "mnist-cnn" || net.name == "mlp" || net.name == "mobilenet-tiny" {
				n = 1000
			}
			im, x, fm := nets(t, net, n)
			floatConformance(t, dir, fm, x)
			floatEdges(t, dir, im, x)
			fi, err := FullInteger(im)
			if err != nil {
				t.Fatal(err)
			}
			file, err := Marshal(fi, Options{})
			if err != nil {
				t.Fatal(err)
			}
			codes := inputCodes(fi, x)
			got := runTFLite(t, dir, file, int8Bytes(codes.Data), n)
			gi := make([]int8, len(got))
			for i, b := range got {
				gi[i] = int8(b)
			}
			c := fi.Tensors[fi.Outputs[0]].Shape.Size()
			for _, mode := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
				fm := *fi
				fm.Rounding = mode
				want := runGoqat(t, &fm, codes)
				if len(got) != len(want) {
					t.Fatalf("TFLite returned %d output bytes, goqat %d", len(got), len(want))
				}
				a := compareCodes(want, gi, c)
				t.Logf("%s %v rounding %s: %d ops in goqat, %d samples: values identical %d/%d (%.4f%%, max |diff| %d), top-1 identical %d/%d (%.2f%%)",
					net.name, net.in, mode, len(fi.Ops), n, a.same, a.values, 100*float64(a.same)/float64(a.values), a.maxDiff,
					a.top1, a.rows, 100*float64(a.top1)/float64(a.rows))
				switch {
				case mode == lite.RoundingTFLite:
					// TFLite's own arithmetic: every value (docs/tflite.md).
					if a.same != a.values {
						t.Errorf("rounding tflite: values identical on %d of %d, want all", a.same, a.values)
					}
				case gated[net.name]:
					if float64(a.same) < 0.9999*float64(a.values) {
						t.Errorf("values identical on %d of %d, want >= 99.99%%", a.same, a.values)
					}
					if float64(a.top1) < 0.999*float64(a.rows) {
						t.Errorf("top-1 identical on %d of %d, want >= 99.9%%", a.top1, a.rows)
					}
				}
			}
		})
	}
}

// floatEdges exports the integer model im with float edges (QUANTIZE and
// DEQUANTIZE) and runs it in TFLite on the float images x: in rounding
// tflite goqat's outputs must be the same float32 values.
func floatEdges(t *testing.T, dir string, im *lite.Model, x *tensor.Tensor) {
	t.Helper()
	file, err := Marshal(im, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 4*len(x.Data))
	for i, v := range x.Data {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(v))
	}
	got := runTFLite(t, dir, file, in, x.Shape[0])
	want := runFloat(t, withRounding(im, lite.RoundingTFLite), x)
	if len(got) != 4*len(want) {
		t.Fatalf("float edges: TFLite returned %d bytes, goqat %d values", len(got), len(want))
	}
	same := 0
	for i, w := range want {
		if math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])) == w {
			same++
		}
	}
	t.Logf("%s float edges, rounding tflite: %d samples: output values identical %d/%d", im.Name, x.Shape[0], same, len(want))
	if same != len(want) {
		t.Errorf("float edges, rounding tflite: %d of %d output values identical, want all", same, len(want))
	}
}

// floatConformance exports the float model m (FLOAT32) and runs it in
// TFLite on x: every output must be within 1e-5 of its row's largest
// magnitude of goqat's output.
func floatConformance(t *testing.T, dir string, m *nn.Model, x *tensor.Tensor) {
	t.Helper()
	file, err := MarshalFloat(m)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(context.Background(), x, 32)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 4*len(x.Data))
	for i, v := range x.Data {
		binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(v))
	}
	n := x.Shape[0]
	got := runTFLite(t, dir, file, in, n)
	if len(got) != 4*len(want.Data) {
		t.Fatalf("float: TFLite returned %d bytes, goqat %d values", len(got), len(want.Data))
	}
	c := len(want.Data) / n
	worst, bad := 0.0, 0
	for r := range n {
		row := want.Data[r*c : (r+1)*c]
		big := 0.0
		for _, v := range row {
			big = max(big, math.Abs(float64(v)))
		}
		for j, v := range row {
			g := math.Float32frombits(binary.LittleEndian.Uint32(got[4*(r*c+j):]))
			d := math.Abs(float64(g)-float64(v)) / max(big, 1e-30)
			worst = max(worst, d)
			if d > 1e-5 {
				bad++
			}
		}
	}
	t.Logf("float %s: %d samples, max |TFLite - goqat| / row max %.2e, %d values beyond 1e-5", m.Name(), n, worst, bad)
	if bad > 0 {
		t.Errorf("float export: %d values beyond 1e-5 of the row maximum (worst %.2e)", bad, worst)
	}
}

// gated lists the networks whose end-to-end agreement TestConformance
// gates.
var gated = map[string]bool{"mlp": true, "mnist-cnn": true}

// TestNetsComplete checks that testNets lists every built-in network.
func TestNetsComplete(t *testing.T) {
	have := map[string]bool{}
	for _, n := range testNets {
		have[n.name] = true
	}
	for _, n := range models.AllNames() {
		if !have[n] {
			t.Errorf("built-in network %s is missing from testNets", n)
		}
	}
}
