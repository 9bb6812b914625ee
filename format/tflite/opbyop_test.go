package tflite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// intermediates runs the full-integer model m on x and returns the codes
// of every int8 tensor, indexed by tensor.
func intermediates(t *testing.T, m *lite.Model, x *tensor.Int8) map[int][]int8 {
	t.Helper()
	all := *m
	all.Outputs = nil
	for _, op := range m.Ops {
		if m.Tensors[op.Output].DType == lite.Int8 {
			all.Outputs = append(all.Outputs, op.Output)
		}
	}
	it, err := lite.NewInterpreter(&all)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInputInt8(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	vals := map[int][]int8{m.Inputs[0]: x.Data}
	for i, k := range all.Outputs {
		vals[k] = append([]int8(nil), it.OutputInt8(i).Data...)
	}
	return vals
}

// isolated returns a model holding every int8 op of m side by side, each
// reading its own copies of its inputs as model inputs, and the input
// bytes (goqat's values of those inputs, input after input) and the ops'
// outputs as goqat computed them.
func isolated(m *lite.Model, vals map[int][]int8) (*lite.Model, []byte, [][]int8, []int) {
	iso := &lite.Model{Name: m.Name + "-ops", Rounding: m.Rounding}
	var in []byte
	var want [][]int8
	var which []int
	for k, op := range m.Ops {
		if m.Tensors[op.Output].DType != lite.Int8 || op.Type == lite.OpQuantize {
			continue
		}
		cp := op
		cp.Inputs = nil
		seen := map[int]int{}
		for _, x := range op.Inputs {
			if j, ok := seen[x]; ok {
				cp.Inputs = append(cp.Inputs, j)
				continue
			}
			t := m.Tensors[x]
			t.Name = fmt.Sprintf("op%d/%s", k, t.Name)
			iso.Tensors = append(iso.Tensors, t)
			j := len(iso.Tensors) - 1
			seen[x] = j
			iso.Inputs = append(iso.Inputs, j)
			cp.Inputs = append(cp.Inputs, j)
			in = append(in, int8Bytes(vals[x])...)
		}
		if cp.Type == lite.OpMaxPool && cp.Pad != [4]int{} && m.NeverBelowZeroPoint(op.Inputs[0]) {
			// A Pad folded into the pooling (its input never below the
			// zero point): alone, the pooling's input is a model input,
			// so the Pad goes in front of it again, the same codes.
			t := m.Tensors[op.Inputs[0]]
			t.Name = fmt.Sprintf("op%d/padded", k)
			t.Shape = tensor.Shape{t.Shape[0] + cp.Pad[0] + cp.Pad[1], t.Shape[1] + cp.Pad[2] + cp.Pad[3], t.Shape[2]}
			iso.Tensors = append(iso.Tensors, t)
			iso.Ops = append(iso.Ops, lite.Op{Type: lite.OpPad, Name: cp.Name + "/pad", Inputs: cp.Inputs, Output: len(iso.Tensors) - 1, Pad: cp.Pad})
			cp.Inputs, cp.Pad = []int{len(iso.Tensors) - 1}, [4]int{}
		}
		iso.Tensors = append(iso.Tensors, m.Tensors[op.Output])
		cp.Output = len(iso.Tensors) - 1
		iso.Outputs = append(iso.Outputs, cp.Output)
		iso.Ops = append(iso.Ops, cp)
		want = append(want, vals[op.Output])
		which = append(which, k)
	}
	return iso, in, want, which
}

// opTally counts identical output codes of one op type.
// opModelDiffs counts the differing values of the hand-made op models.
type opTally struct{ same, total, maxDiff, opModelDiffs int }

// TestConformanceOps feeds every op of every built-in network (and of the
// hand-made op models) the values goqat computed for its inputs, in
// TFLite and in goqat, and reports per op type the share of identical
// output codes: the differences of each op's numerics alone, without the
// amplification of a deep network (docs/tflite.md, Conformance). Each op
// type must agree on >= 99.99% of its values, except the average pools,
// which round ties half to even in goqat and half away from zero in
// TFLite: they must differ by at most one step. Skipped in -short mode and
// without TFLite's runtime.
func TestConformanceOps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every op of every built-in network in TFLite: skipped in -short mode")
	}
	if os.Getenv("GOQAT_TFLITE_CONFORMANCE") != "1" {
		t.Skip("TFLite conformance runs with GOQAT_TFLITE_CONFORMANCE=1 (scripts/tflite_conformance.sh)")
	}
	dir := tfliteDir(t)
	modes := []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite}
	tallies := map[lite.Rounding]map[lite.OpType]*opTally{}
	for _, mode := range modes {
		tallies[mode] = map[lite.OpType]*opTally{}
	}
	only := os.Getenv("GOQAT_TFLITE_NETS")
	check := func(t *testing.T, fi *lite.Model, x *tensor.Int8, n int, opModel bool) {
		for _, mode := range modes {
			fm := *fi
			fm.Rounding = mode
			vals := intermediates(t, &fm, x)
			iso, in, want, which := isolated(&fm, vals)
			// Each mode's ops are fed that mode's values of their
			// inputs, so TFLite runs once per mode.
			file, err := Marshal(iso, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := runTFLite(t, dir, file, in, n)
			tally := tallies[mode]
			off := 0
			for i, w := range want {
				if off+len(w) > len(got) {
					t.Fatalf("TFLite returned %d bytes, fewer than the ops' outputs", len(got))
				}
				op := &fi.Ops[which[i]]
				tl := tally[op.Type]
				if tl == nil {
					tl = &opTally{}
					tally[op.Type] = tl
				}
				for j, v := range w {
					d := abs(int(v) - int(int8(got[off+j])))
					if d == 0 {
						tl.same++
					} else if opModel {
						tl.opModelDiffs++
					}
					if d != 0 && os.Getenv("GOQAT_TFLITE_DEBUG") != "" && tl.total-tl.same < 6 {
						t.Logf("rounding %s: %s %q value %d: goqat %d, TFLite %d", mode, op.Type, op.Name, j, v, int8(got[off+j]))
					}
					tl.total++
					tl.maxDiff = max(tl.maxDiff, d)
				}
				off += len(w)
			}
		}
	}
	for _, net := range testNets {
		if only != "" && !strings.Contains(","+only+",", ","+net.name+",") {
			continue
		}
		t.Run(net.name, func(t *testing.T) {
			const n = 50
			im, x := int8Net(t, net, n)
			fi, err := FullInteger(im)
			if err != nil {
				t.Fatal(err)
			}
			check(t, fi, inputCodes(fi, x), n, false)
		})
	}
	r := rand.New(rand.NewPCG(8, 9))
	ms := opModels(r)
	for _, name := range sortedNames(ms) {
		m := ms[name]
		t.Run(name, func(t *testing.T) {
			const n = 200
			fi, err := FullInteger(m)
			if err != nil {
				t.Fatal(err)
			}
			x := tensor.NewInt8(append(tensor.Shape{n}, fi.Tensors[fi.Inputs[0]].Shape...)...)
			for i := range x.Data {
				x.Data[i] = int8(r.IntN(256) - 128)
			}
			check(t, fi, x, n, true)
		})
	}
	for _, mode := range modes {
		tally := tallies[mode]
		types := make([]string, 0, len(tally))
		for k := range tally {
			types = append(types, string(k))
		}
		sort.Strings(types)
		for _, k := range types {
			tl := tally[lite.OpType(k)]
			t.Logf("rounding %-6s op %-18s identical %9d / %9d (%.4f%%), max |diff| %d (op models: %d differ)", mode, k, tl.same, tl.total, 100*float64(tl.same)/float64(tl.total), tl.maxDiff, tl.opModelDiffs)
			switch {
			case mode == lite.RoundingTFLite:
				// Every value of the networks' ops. In the op models'
				// graph of side-by-side ops, which holds a Conv2D of
				// per-tensor weights, TFLite's runtime leaves the
				// depthwise convolution to its builtin kernel rather than
				// XNNPACK (two roundings: tflite-reference's codes;
				// docs/tflite.md): a few values there.
				if tl.same+tl.opModelDiffs != tl.total {
					t.Errorf("rounding tflite: op %s: %d values of the networks differ, want none", k, tl.total-tl.same-tl.opModelDiffs)
				}
				if float64(tl.opModelDiffs) > 0.001*float64(tl.total) {
					t.Errorf("rounding tflite: op %s: %d values of the op models differ, want at most 0.1%%", k, tl.opModelDiffs)
				}
			case lite.OpType(k) == lite.OpAveragePool || lite.OpType(k) == lite.OpGlobalAveragePool:
				if tl.maxDiff > 1 {
					t.Errorf("op %s: values differ by up to %d steps, want at most 1 (ties)", k, tl.maxDiff)
				}
			default:
				if float64(tl.same) < 0.9999*float64(tl.total) {
					t.Errorf("op %s: identical on %d of %d values, want >= 99.99%%", k, tl.same, tl.total)
				}
			}
		}
	}
}
