package tflite

import (
	"os"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// prefix returns the model of m's first k+1 ops with op k's output as the
// only output.
func prefix(m *lite.Model, k int) *lite.Model {
	p := *m
	p.Ops = m.Ops[:k+1]
	p.Outputs = []int{m.Ops[k].Output}
	return &p
}

// TestConformanceOpByOp runs, for the networks named in
// GOQAT_TFLITE_OPBYOP (comma-separated), every prefix of the
// full-integer model in TFLite and goqat and reports the share of
// identical codes after each op: the first op that differs is the op whose
// numerics differ (docs/tflite.md, Differences).
func TestConformanceOpByOp(t *testing.T) {
	names := os.Getenv("GOQAT_TFLITE_OPBYOP")
	if names == "" {
		t.Skip("set GOQAT_TFLITE_OPBYOP=net1,net2 to compare every op's output with TFLite")
	}
	dir := tfliteDir(t)
	for _, net := range testNets {
		if !strings.Contains(","+names+",", ","+net.name+",") {
			continue
		}
		t.Run(net.name, func(t *testing.T) {
			const n = 50
			im, x := int8Net(t, net, n)
			fi, err := FullInteger(im)
			if err != nil {
				t.Fatal(err)
			}
			codes := inputCodes(fi, x)
			for k := range fi.Ops {
				p := prefix(fi, k)
				if p.Tensors[p.Outputs[0]].DType != lite.Int8 {
					continue
				}
				file, err := Marshal(p, Options{})
				if err != nil {
					t.Fatalf("op %d: %v", k, err)
				}
				want := runGoqat(t, p, &tensor.Int8{Shape: codes.Shape, Data: codes.Data})
				got := runTFLite(t, dir, file, int8Bytes(codes.Data), n)
				gi := make([]int8, len(got))
				for i, b := range got {
					gi[i] = int8(b)
				}
				a := compareCodes(want, gi, len(want)/n)
				op := &fi.Ops[k]
				t.Logf("op %2d %-18s %-12s %-28s identical %6.2f%% (max |diff| %d)", k, op.Type, op.Activation, op.Name,
					100*float64(a.same)/float64(a.values), a.maxDiff)
			}
		})
	}
}
