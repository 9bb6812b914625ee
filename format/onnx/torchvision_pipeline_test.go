package onnx

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"google.golang.org/protobuf/proto"
)

// Sizes of TestTorchvisionPipeline: calibration and training images, and
// the random images on which the QAT model, the integer model and ONNX
// Runtime are compared.
const (
	pipelineCalib   = 8
	pipelineCompare = 32
)

// TestTorchvisionPipeline takes every torchvision network that imports
// (the committed narrow ones; the full-width ones too when
// GOQAT_TORCHVISION_DIR is set) through goqat's whole pipeline: Import,
// quantize.Model, quantize.Calibrate on the fixture's images and random
// N(0, 1) images (NHWC), one QAT training step (Adam) on random labels,
// convert.Convert; then, on 32 other random images:
//
//   - the integer interpreter against the QAT model's inference mode:
//     top-1 identical on at least 99.9% of the images and output codes
//     within one step on 99.9% of the values (linked QAT inference is
//     exact: the log says how many codes are identical);
//   - ExportInteger (QDQ), checked by the onnx checker (skipped without
//     python3-onnx);
//   - the QDQ graph op by op on goqat's own int8 values, in the test
//     evaluator and in ONNX Runtime (ortLocal): every code within one
//     step of goqat's and 99.9% identical;
//   - the QDQ graph end to end in ONNX Runtime: top-1 on 99.9% of the
//     images and outputs within one step on 99.9% of the values, for a
//     network that does not amplify a one-step difference (sensitivity:
//     one input value of each image moved by one step moves at most 0.1%
//     of the outputs by more than one step and changes the top-1 class of
//     at most 0.1% of the images); for the others it is logged
//     (sensitiveReason).
//
// The ONNX Runtime steps need node and onnxruntime-node (see ortPath) and
// are logged as skipped without them. A refusal by quantize, convert or
// lite skips the network with a message starting "FINDING". Skipped in
// -short mode.
func TestTorchvisionPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("quantizes, trains and converts every torchvision network: skipped in -short mode")
	}
	ort, noORT := ortPath()
	qdq := map[string]*onnxpb.ModelProto{}
	for i, net := range torchvisionNets {
		if net.lacks != "" {
			continue
		}
		name := net.name
		if net.full {
			name = "full/" + name
		}
		t.Run(name, func(t *testing.T) {
			qdq[strings.ReplaceAll(name, "/", "_")] = torchvisionQuantized(t, net, uint64(i), ort, noORT)
		})
	}
	if len(qdq) > 0 {
		t.Run("onnx checker", func(t *testing.T) { runChecker(t, qdq) })
	}
}

// torchvisionQuantized runs TestTorchvisionPipeline's steps on one
// network and returns its QDQ export. ort is the folder of
// onnxruntime-node, or "" with noORT saying why it is missing.
func torchvisionQuantized(t *testing.T, net torchvisionNet, seed uint64, ort, noORT string) *onnxpb.ModelProto {
	m, fixture, _ := importTorchvision(t, net)
	return pipelineQuantized(t, net.name, m, fixture.Shape[1:], fixture, seed, ort, noORT)
}

// pipelineQuantized runs TestTorchvisionPipeline's steps on the float
// model m with images of shape sample (H, W, C), calibrating on the images
// of first (NHWC; nil for none) followed by random ones, and returns its
// QDQ export.
func pipelineQuantized(t *testing.T, name string, m *nn.Model, sample tensor.Shape, first *tensor.Tensor, seed uint64, ort, noORT string) *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(seed, 2026))
	calib := randomImages(r, pipelineCalib, sample)
	if first != nil {
		copy(calib.Data, first.Data) // the fixture's images first
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Skipf("FINDING: quantize.Model refuses the imported %s: %v", name, err)
	}
	ctx := context.Background()
	if err := quantize.Calibrate(ctx, q, calib, pipelineCalib); err != nil {
		t.Fatalf("Calibrate: %v", err)
	}
	classes := m.OutputShape(m.OutputNames()[0]).Size()
	labels := tensor.New(pipelineCalib)
	for i := range labels.Data {
		labels.Data[i] = float32(r.IntN(classes))
	}
	if err := q.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Fit(ctx, calib, labels, nn.FitOptions{BatchSize: pipelineCalib, Epochs: 1, Seed: seed, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatalf("QAT step: %v", err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Skipf("FINDING: convert.Convert fails on the QAT %s: %v", name, err)
	}

	// The integer model against the QAT model.
	x := randomImages(r, pipelineCompare, sample)
	want, err := q.Predict(ctx, x, pipelineCompare)
	if err != nil {
		t.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Skipf("FINDING: the integer %s does not load in lite: %v", name, err)
	}
	it.KeepTensors() // tensors compared op by op
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	codes := append([]int8(nil), it.OutputInt8(0).Data...) // the interpreter runs again below
	out := outputTensor(im)
	if out == nil || len(codes) != len(want.Data) {
		t.Fatalf("the integer model's output (%d codes) does not match the QAT model's %v", len(codes), want.Shape)
	}
	qatCodes := make([]int32, len(want.Data))
	for i, v := range want.Data {
		qatCodes[i] = qmath.QuantizeValue(v, out.Scale, out.ZeroPoint, -128, 127)
	}
	a := compareCodes(qatCodes, func(i int) float64 { return float64(codes[i]) }, classes)
	t.Logf("QAT -> int8 (%d ops): %s", len(im.Ops), a)
	a.check(t, "the integer model against the QAT model")

	// The QDQ export: the onnx checker (run by the caller), ONNX Runtime
	// end to end and op by op on the interpreter's values for x, then the
	// test evaluator op by op.
	mp, err := ExportInteger(im)
	if err != nil {
		t.Fatalf("ExportInteger: %v", err)
	}
	var e2e *codeAgreement // ONNX Runtime against goqat, end to end
	if ort == "" {
		t.Log(noORT)
	} else {
		got := runORT(t, ort, mp, x)
		if len(got) != len(codes) {
			t.Fatalf("ONNX Runtime gave %d values, goqat %d", len(got), len(codes))
		}
		goqat := make([]int32, len(codes))
		for i, c := range codes {
			goqat[i] = int32(c)
		}
		b := compareCodes(goqat, func(i int) float64 { return float64(got[i])/float64(out.Scale) + float64(out.ZeroPoint) }, classes)
		e2e = &b
		t.Logf("QDQ export in ONNX Runtime, end to end, against goqat int8: %s", b)
		l, worst := ortLocal(t, ort, im, it, mp, x)
		t.Logf("QDQ export in ONNX Runtime, op by op on goqat's int8 inputs: %s; most differences: %s", l, worst)
		l.checkOps(t, "ONNX Runtime, op by op")
	}
	sens := sensitivity(t, im, it, x, codes, r)
	t.Logf("sensitivity: one input value of each image moved by one input step moves goqat's int8 outputs: %s", sens)
	switch {
	case e2e == nil:
	case float64(sens.one) < 0.999*float64(sens.vals) || float64(sens.top1) < 0.999*float64(sens.rows):
		t.Logf("end to end not gated: %s", sensitiveReason)
	default:
		e2e.check(t, "ONNX Runtime's outputs of the QDQ export against goqat's int8 outputs")
	}
	xl := x.Batch(0, 4) // the evaluator is slow
	if err := it.SetInput(0, xl); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	l, worst := qdqLocal(t, im, it, mp, xl)
	t.Logf("QDQ export in the test evaluator, op by op on goqat's int8 inputs: %s; most differences: %s", l, worst)
	l.checkOps(t, "the test evaluator, op by op")
	return mp
}

// sensitiveReason is why the int8 outputs of a sensitive network in ONNX
// Runtime are not held within one step of goqat's end to end.
const sensitiveReason = "op by op, ONNX Runtime's float32 arithmetic rounds a few int8 values in 10^5 to the other side of a " +
	"tie from goqat's exact integer arithmetic (both within one step, which the test gates), and this network, with random " +
	"weights, amplifies a one-step difference early on to several steps at its outputs or flips a top-1 class whose two " +
	"best scores lie within a step (the sensitivity line): the rare differences compound"

// sensitivity runs the interpreter it of im on x with one random value of
// each image moved by one step of the input's quantization and compares
// the output codes with codes, im's outputs for x: how far a one-step
// difference early in the network moves the outputs, which bounds how
// well two correct implementations that round a few ties differently can
// agree end to end.
func sensitivity(t *testing.T, im *lite.Model, it *lite.Interpreter, x *tensor.Tensor, codes []int8, r *rand.Rand) codeAgreement {
	t.Helper()
	y := x.Clone()
	n := x.Shape[0]
	per := x.Size() / n
	if im.Ops[0].Type != lite.OpQuantize {
		t.Fatalf("the integer model starts with %s, not the input's Quantize", im.Ops[0].Type)
	}
	step := im.Tensors[im.Ops[0].Output].Scale
	for b := 0; b < n; b++ {
		y.Data[b*per+r.IntN(per)] += step
	}
	if err := it.SetInput(0, y); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	moved := it.OutputInt8(0).Data
	want := make([]int32, len(codes))
	for i, c := range codes {
		want[i] = int32(c)
	}
	return compareCodes(want, func(i int) float64 { return float64(moved[i]) }, len(codes)/n)
}

// randomImages returns n images of the given per-sample shape with N(0, 1)
// values, as the fixtures' inputs.
func randomImages(r *rand.Rand, n int, shape tensor.Shape) *tensor.Tensor {
	x := tensor.New(append([]int{n}, shape...)...)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// outputTensor returns the int8 tensor that im's (float) output
// dequantizes, nil if there is none.
func outputTensor(im *lite.Model) *lite.Tensor {
	for _, op := range im.Ops {
		if op.Type == lite.OpDequantize && op.Output == im.Outputs[0] {
			return &im.Tensors[op.Inputs[0]]
		}
	}
	return nil
}

// codeAgreement counts how two models' output codes agree.
type codeAgreement struct {
	rows, top1      int     // rows, rows with the same top-1 class (no rows: values only)
	vals, same, one int     // values, identical ones, ones at most one step apart
	worst           float64 // the largest difference in steps
}

// add counts one value d steps away from the reference.
func (a *codeAgreement) add(d float64) {
	a.vals++
	if d < 1e-3 {
		a.same++
	}
	if d <= 1+1e-3 {
		a.one++
	}
	a.worst = max(a.worst, d)
}

// String reports the agreement in one line.
func (a codeAgreement) String() string {
	s := ""
	if a.rows > 0 {
		s = fmt.Sprintf("top-1 identical on %d of %d images (%.2f%%); ", a.top1, a.rows, 100*float64(a.top1)/float64(a.rows))
	}
	return s + fmt.Sprintf("codes identical on %.4f%%, within one step on %.4f%% of %d values, max %.3g steps",
		100*float64(a.same)/float64(a.vals), 100*float64(a.one)/float64(a.vals), a.vals, a.worst)
}

// check fails t unless top-1 is identical on 99.9% of the rows and the
// codes are within one step on 99.9% of the values.
func (a codeAgreement) check(t *testing.T, what string) {
	t.Helper()
	if float64(a.top1) < 0.999*float64(a.rows) || float64(a.one) < 0.999*float64(a.vals) {
		t.Errorf("%s: %s (criteria: 99.9%% each)", what, a)
	}
}

// checkOps fails t unless every code of an op-by-op comparison is within
// one step and 99.9% are identical: on the same inputs, a float runtime
// differs from goqat's integer arithmetic only where a value lies within
// float32 rounding of a tie.
func (a codeAgreement) checkOps(t *testing.T, what string) {
	t.Helper()
	if a.vals == 0 || a.one != a.vals || float64(a.same) < 0.999*float64(a.vals) {
		t.Errorf("%s: %s (criteria: all within one step, 99.9%% identical)", what, a)
	}
}

// compareCodes compares reference codes want with got(i), the other
// model's value i in steps (possibly fractional), k values per row. The
// top-1 class is the first largest value of a row.
func compareCodes(want []int32, got func(i int) float64, k int) codeAgreement {
	var a codeAgreement
	for r := 0; r+k <= len(want); r += k {
		bw, bg := r, r
		for i := r; i < r+k; i++ {
			g := got(i)
			a.add(math.Abs(g - float64(want[i])))
			if want[i] > want[bw] {
				bw = i
			}
			if g > got(bg) {
				bg = i
			}
		}
		a.rows++
		if bw == bg {
			a.top1++
		}
	}
	return a
}

// qdqTensors returns the int8 tensors of im that the QDQ export makes with
// a QuantizeLinear named after them (every int8 op output but Reshape's
// and Slice's, which the export computes on the int8 values), in op order.
func qdqTensors(im *lite.Model) []int {
	var ts []int
	for k := range im.Ops {
		if o, typ := im.Ops[k].Output, im.Ops[k].Type; im.Tensors[o].DType == lite.Int8 && typ != lite.OpReshape && typ != lite.OpSlice {
			ts = append(ts, o)
		}
	}
	return ts
}

// onnxShape returns the per-sample shape of tensor i of im in the QDQ
// export's layout: images (H, W, C) as (C, H, W).
func onnxShape(im *lite.Model, i int) tensor.Shape {
	if s := im.Tensors[i].Shape; len(s) == 3 {
		return tensor.Shape{s[2], s[0], s[1]}
	}
	return im.Tensors[i].Shape
}

// onnxCodes returns the interpreter's codes of int8 tensor i after its
// last Invoke, in the QDQ export's layout (images NCHW).
func onnxCodes(im *lite.Model, it *lite.Interpreter, i int) []int8 {
	codes := it.TensorInt8(i, nil).Data
	s := im.Tensors[i].Shape
	if len(s) != 3 {
		return append([]int8(nil), codes...)
	}
	h, w, c := s[0], s[1], s[2]
	out := make([]int8, len(codes))
	for b := 0; b < len(codes)/s.Size(); b++ {
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				for ch := 0; ch < c; ch++ {
					out[((b*c+ch)*h+y)*w+xx] = codes[((b*h+y)*w+xx)*c+ch]
				}
			}
		}
	}
	return out
}

// qdqLocal evaluates the QDQ export mp of the integer model im in the
// test evaluator (ONNX semantics) op by op on the interpreter's own int8
// values: after every QuantizeLinear that makes one of im's int8 tensors,
// later nodes read the interpreter's codes for that tensor (it, after an
// Invoke on x), so each op is compared on goqat's inputs and differences
// do not compound. It returns the agreement of those QuantizeLinears'
// codes with the interpreter's and the differences per tensor.
func qdqLocal(t *testing.T, im *lite.Model, it *lite.Interpreter, mp *onnxpb.ModelProto, x *tensor.Tensor) (codeAgreement, worstTensor) {
	t.Helper()
	idx := map[string]int{}
	for _, i := range qdqTensors(im) {
		idx[im.Tensors[i].Name] = i
	}
	var a codeAgreement
	var w worstTensor
	seen := 0
	after := func(n *onnxpb.NodeProto, out *rtensor) (*rtensor, error) {
		if n.GetOpType() != "QuantizeLinear" {
			return out, nil
		}
		i, ok := idx[strings.TrimSuffix(n.GetOutput()[0], "/nchw")]
		if !ok {
			return out, nil
		}
		seen++
		codes := onnxCodes(im, it, i)
		if len(codes) != len(out.v) {
			return nil, fmt.Errorf("%d codes, goqat's tensor %q has %d", len(out.v), im.Tensors[i].Name, len(codes))
		}
		v := make([]float64, len(codes))
		diff := 0
		for j, c := range codes {
			v[j] = float64(c)
			d := math.Abs(out.v[j] - v[j])
			a.add(d)
			if d != 0 {
				diff++
			}
		}
		w.note(im.Tensors[i].Name, diff, len(v))
		return &rtensor{dt: out.dt, shape: out.shape, v: v}, nil
	}
	in := &rtensor{dt: onnxpb.TensorProto_FLOAT, shape: x.Shape}
	for _, v := range x.Data {
		in.v = append(in.v, float64(v))
	}
	g := mp.GetGraph()
	if _, err := evalGraphWith(g, map[string]*rtensor{g.GetInput()[0].GetName(): in}, after); err != nil {
		t.Fatalf("evaluating the QDQ export: %v", err)
	}
	if seen != len(idx) {
		t.Errorf("the QDQ export quantizes %d of the integer model's %d int8 tensors by name", seen, len(idx))
	}
	return a, w
}

// worstTensor remembers how many values of each tensor differ and the
// tensor with the most.
type worstTensor struct {
	name        string
	diff, total int
	diffs       map[string]int // per tensor
}

// note records a tensor with diff of total values differing.
func (w *worstTensor) note(name string, diff, total int) {
	if w.diffs == nil {
		w.diffs = map[string]int{}
	}
	w.diffs[name] = diff
	if diff > w.diff {
		w.name, w.diff, w.total = name, diff, total
	}
}

// String names the tensor, or says that none differs.
func (w worstTensor) String() string {
	if w.diff == 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%d of %d values)", w.name, w.diff, w.total)
}

// ortLocal runs the QDQ export mp of im in ONNX Runtime op by op on the
// interpreter's own int8 values (it, after an Invoke on x): in a copy of
// the graph, every node that reads one of the int8 tensors of qdqTensors
// reads a new graph input fed with goqat's codes instead, and every such
// tensor's QuantizeLinear output is a graph output. It returns the
// agreement of those outputs with the interpreter's codes and the tensor
// with the most differences.
func ortLocal(t *testing.T, ort string, im *lite.Model, it *lite.Interpreter, mp *onnxpb.ModelProto, x *tensor.Tensor) (codeAgreement, string) {
	t.Helper()
	local := proto.Clone(mp).(*onnxpb.ModelProto)
	g := local.GetGraph()
	byName := map[string]int{} // QuantizeLinear output -> tensor
	for _, n := range g.GetNode() {
		if n.GetOpType() == "QuantizeLinear" {
			byName[n.GetOutput()[0]] = -1
		}
	}
	var outs []int
	g.Output = nil
	for _, i := range qdqTensors(im) {
		name := im.Tensors[i].Name
		if _, ok := byName[name]; !ok {
			name += "/nchw"
			if _, ok := byName[name]; !ok {
				t.Fatalf("the QDQ export has no QuantizeLinear for tensor %q", im.Tensors[i].Name)
			}
		}
		byName[name] = i
		outs = append(outs, i)
		g.Output = append(g.Output, valueInfo(name, onnxpb.TensorProto_INT8, onnxShape(im, i)))
	}
	fed := map[string]bool{}
	for _, n := range g.GetNode() {
		for k, in := range n.GetInput() {
			if i, ok := byName[in]; ok && i >= 0 {
				n.Input[k] = in + "/goqat"
				fed[in] = true
			}
		}
	}
	dir := t.TempDir()
	type feed struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Dims []int  `json:"dims"`
		File string `json:"file"`
	}
	man := struct {
		Inputs  []feed   `json:"inputs"`
		Outputs []string `json:"outputs"`
	}{Inputs: []feed{{g.GetInput()[0].GetName(), "float32", x.Shape, "x.bin"}}}
	writeF32(t, filepath.Join(dir, "x.bin"), x.Data)
	for _, o := range g.GetOutput() {
		man.Outputs = append(man.Outputs, o.GetName())
	}
	for k, i := range outs {
		name := man.Outputs[k]
		if !fed[name] {
			continue
		}
		g.Input = append(g.Input, valueInfo(name+"/goqat", onnxpb.TensorProto_INT8, onnxShape(im, i)))
		codes := onnxCodes(im, it, i)
		b := make([]byte, len(codes))
		for j, c := range codes {
			b[j] = byte(c)
		}
		file := fmt.Sprintf("in%d.bin", k)
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		man.Inputs = append(man.Inputs, feed{name + "/goqat", "int8", append([]int{x.Shape[0]}, onnxShape(im, i)...), file})
	}
	mj, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "local.onnx")
	if err := WriteFile(model, local); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script(t, "onnx_run.js"), ort, model, dir)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, o)
	}
	var a codeAgreement
	var w worstTensor
	for k, i := range outs {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.bin", k)))
		if err != nil {
			t.Fatal(err)
		}
		codes := onnxCodes(im, it, i)
		if len(got) != len(codes) {
			t.Fatalf("ONNX Runtime gave %d codes for %q, goqat %d", len(got), im.Tensors[i].Name, len(codes))
		}
		diff := 0
		for j, c := range codes {
			d := math.Abs(float64(int8(got[j])) - float64(c))
			a.add(d)
			if d != 0 {
				diff++
			}
		}
		w.note(im.Tensors[i].Name, diff, len(codes))
	}
	return a, w.String()
}

// script returns the path of scripts/NAME, relative to this package.
func script(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", name)
}

// writeF32 writes values as raw little-endian float32.
func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runORT runs mp in ONNX Runtime (scripts/onnx_conformance.js, all graph
// optimizations, 2 threads) on the NHWC images x and returns its first
// output.
func runORT(t *testing.T, ort string, mp *onnxpb.ModelProto, x *tensor.Tensor) []float32 {
	t.Helper()
	dir := t.TempDir()
	model, in, out := filepath.Join(dir, "m.onnx"), filepath.Join(dir, "x.f32"), filepath.Join(dir, "y.f32")
	if err := WriteFile(model, mp); err != nil {
		t.Fatal(err)
	}
	writeF32(t, in, x.Data)
	dims := fmt.Sprintf("%dx%dx%d", x.Shape[1], x.Shape[2], x.Shape[3])
	cmd := exec.Command("node", script(t, "onnx_conformance.js"), ort, model, in, out, fmt.Sprint(x.Shape[0]), dims)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, o)
	}
	return readF32(t, out)
}
