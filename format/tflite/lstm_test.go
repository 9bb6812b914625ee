package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// lstmCase is a hand-made integer LSTM model's parameters.
type lstmCase struct {
	t, f, u     int
	e           int
	seq, back   bool
	zpIn, zpOut int32
	sIn, sOut   float32
	wScale      float32
	perChannel  bool
	bias        bool
}

func (c lstmCase) String() string {
	return fmt.Sprintf("T%d F%d U%d E%d seq=%v back=%v zp=%d/%d", c.t, c.f, c.u, c.e, c.seq, c.back, c.zpIn, c.zpOut)
}

// lstmModel returns a full-integer model of one LSTM op with random
// weights (one scale per gate matrix unless perChannel).
func lstmModel(r *rand.Rand, c lstmCase) *lite.Model {
	m := &lite.Model{Name: "lstm"}
	m.Tensors = append(m.Tensors,
		lite.Tensor{Name: "x", Shape: tensor.Shape{c.t, c.f}, DType: lite.Int8, Scale: c.sIn, ZeroPoint: c.zpIn, Bits: 8})
	out := tensor.Shape{c.u}
	if c.seq {
		out = tensor.Shape{c.t, c.u}
	}
	m.Tensors = append(m.Tensors,
		lite.Tensor{Name: "h", Shape: out, DType: lite.Int8, Scale: c.sOut, ZeroPoint: c.zpOut, Bits: 8})
	gu := 4 * c.u
	op := lite.Op{Type: lite.OpLSTM, Name: "lstm", Inputs: []int{0}, Output: 1, WeightShape: tensor.Shape{c.f + c.u, gu},
		WeightBits: 8, Weights: make([]int8, (c.f+c.u)*gu), WeightScales: make([]float32, 2*gu), CellExponent: c.e,
		ReturnSequences: c.seq, GoBackwards: c.back}
	for i := range op.Weights {
		op.Weights[i] = int8(r.IntN(255) - 127)
	}
	for b := range 8 {
		s := c.wScale * (0.5 + r.Float32())
		for j := range c.u {
			if c.perChannel {
				s = c.wScale * (0.5 + r.Float32())
			}
			op.WeightScales[b*c.u+j] = s
		}
	}
	if c.bias {
		op.Bias = make([]int32, gu)
		for j := range op.Bias {
			op.Bias[j] = int32(r.IntN(4001) - 2000)
		}
	}
	m.Ops = []lite.Op{op}
	m.Inputs, m.Outputs = []int{0}, []int{1}
	return m
}

// lstmCases are the hand-made models: state exponents, zero points,
// sequence and last-step outputs, reversed input, no bias.
var lstmCases = []lstmCase{
	{t: 6, f: 5, u: 8, e: -11, seq: true, zpIn: -3, zpOut: 5, sIn: 0.02, sOut: 0.008, wScale: 0.01, bias: true},
	{t: 7, f: 3, u: 5, e: -12, seq: false, zpIn: 10, zpOut: -7, sIn: 0.05, sOut: 0.0079, wScale: 0.02, bias: true},
	{t: 5, f: 4, u: 6, e: -9, seq: true, back: true, zpIn: 0, zpOut: 0, sIn: 0.03, sOut: 0.0078, wScale: 0.015, bias: false},
	{t: 9, f: 7, u: 16, e: -10, seq: false, back: true, zpIn: -128, zpOut: 3, sIn: 0.01, sOut: 0.009, wScale: 0.03, bias: true},
	{t: 4, f: 2, u: 3, e: -12, seq: true, zpIn: 1, zpOut: -1, sIn: 0.1, sOut: 0.008, wScale: 0.05, bias: true},
	{t: 8, f: 6, u: 12, e: -11, seq: true, zpIn: 7, zpOut: -20, sIn: 0.03, sOut: 0.0078, wScale: 0.01, bias: true},
	{t: 8, f: 6, u: 12, e: -10, seq: true, zpIn: 7, zpOut: 20, sIn: 0.03, sOut: 0.0078, wScale: 0.01, bias: true},
	{t: 8, f: 6, u: 12, e: -9, seq: true, zpIn: -7, zpOut: 2, sIn: 0.03, sOut: 0.0078, wScale: 0.01, bias: true},
}

// lstmInputs returns n random int8 samples of m's input.
func lstmInputs(r *rand.Rand, m *lite.Model, n int) *tensor.Int8 {
	s := m.Tensors[m.Inputs[0]].Shape
	x := tensor.NewInt8(append(tensor.Shape{n}, s...)...)
	for i := range x.Data {
		x.Data[i] = int8(r.IntN(256) - 128)
	}
	return x
}

// runGoqatN runs m on n samples, one at a time, and returns the output
// codes.
func runGoqatN(t *testing.T, m *lite.Model, x *tensor.Int8) []int8 {
	t.Helper()
	n := x.Shape[0]
	per := x.Shape[1:].Size()
	var out []int8
	for s := range n {
		xs := tensor.NewInt8(append(tensor.Shape{1}, x.Shape[1:]...)...)
		copy(xs.Data, x.Data[s*per:(s+1)*per])
		out = append(out, runGoqat(t, m, xs)...)
	}
	return out
}

func int8Raw(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// TestExportLSTMRefusals checks the one-line errors of what TFLite's
// integer LSTM cannot take.
func TestExportLSTMRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := lstmCases[0]
	c.perChannel = true
	if _, err := Marshal(lstmModel(r, c), Options{}); err == nil || !strings.Contains(err.Error(), "per-channel") {
		t.Errorf("per-channel LSTM: %v", err)
	}
	masked := lstmModel(r, lstmCases[0])
	masked.Ops[0].Masking = true
	if _, err := Marshal(masked, Options{}); err == nil || !strings.Contains(err.Error(), "masking") || strings.Contains(err.Error(), "\n") {
		t.Errorf("masked LSTM: %v", err)
	}
	for _, typ := range []lite.OpType{lite.OpGRU, lite.OpSimpleRNN} {
		m := lstmModel(r, lstmCases[0])
		op := &m.Ops[0]
		gates := 3
		if typ == lite.OpSimpleRNN {
			gates = 1
		}
		u := 8
		op.Type, op.CellExponent = typ, 0
		op.WeightShape = tensor.Shape{5 + u, gates * u}
		op.Weights = op.Weights[:op.WeightShape.Size()]
		op.WeightScales = op.WeightScales[:2*gates*u]
		op.Bias = make([]int32, gates*u)
		if typ == lite.OpGRU {
			op.Bias = make([]int32, 2*gates*u)
		}
		_, err := Marshal(m, Options{})
		if err == nil || !strings.Contains(err.Error(), string(typ)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

// TestLSTMTFLiteRounding checks that the LSTM in rounding tflite computes
// the same real function as goqat's rounding on models whose gates do not
// saturate (small weight scales): both roundings within two steps, and
// not identical everywhere (the TFLite arithmetic is in use).
func TestLSTMTFLiteRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	differ := 0
	for _, c := range lstmCases {
		c.wScale = min(c.wScale, 0.01)
		m := lstmModel(r, c)
		x := lstmInputs(r, m, 8)
		a := runGoqatN(t, m, x)
		tm := *m
		tm.Rounding = lite.RoundingTFLite
		b := runGoqatN(t, &tm, x)
		g := compareCodes(a, b, len(a)/8)
		t.Logf("%v: goqat vs rounding tflite: %d/%d identical, max diff %d", c, g.same, g.values, g.maxDiff)
		if g.maxDiff > 2 {
			t.Errorf("%v: rounding tflite %d steps from goqat's", c, g.maxDiff)
		}
		differ += g.values - g.same
	}
	if differ == 0 {
		t.Error("rounding tflite gave goqat's codes on every value: the TFLite LSTM kernel did not run")
	}
}

// TestConformanceLSTM runs the hand-made LSTM models in TFLite's runtime
// and in goqat (both roundings) on random int8 inputs: rounding tflite
// must give TFLite's codes on every value.
func TestConformanceLSTM(t *testing.T) {
	if os.Getenv("GOQAT_TFLITE_CONFORMANCE") != "1" {
		t.Skip("TFLite conformance runs with GOQAT_TFLITE_CONFORMANCE=1 (scripts/tflite_conformance.sh)")
	}
	dir := tfliteDir(t)
	r := rand.New(rand.NewPCG(5, 6))
	const n = 8
	for _, c := range lstmCases {
		m := lstmModel(r, c)
		file, err := Marshal(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		x := lstmInputs(r, m, n)
		got := runTFLite(t, dir, file, int8Raw(x.Data), n, "fresh")
		want := make([]int8, len(got))
		for i, v := range got {
			want[i] = int8(v)
		}
		a := runGoqatN(t, m, x)
		tm := *m
		tm.Rounding = lite.RoundingTFLite
		b := runGoqatN(t, &tm, x)
		w := len(a) / n
		ga, gb := compareCodes(want, a, w), compareCodes(want, b, w)
		t.Logf("%v: goqat rounding %d/%d identical (max diff %d); rounding tflite %d/%d (max diff %d)",
			c, ga.same, ga.values, ga.maxDiff, gb.same, gb.values, gb.maxDiff)
		if gb.same != gb.values {
			t.Errorf("%v: rounding tflite differs from TFLite on %d of %d values", c, gb.values-gb.same, gb.values)
		}
	}
}

// int8sOf returns raw bytes as int8 codes.
func int8sOf(b []byte) []int8 {
	o := make([]int8, len(b))
	for i, v := range b {
		o[i] = int8(v)
	}
	return o
}

// embeddingLSTM returns a model of float32 indices (T) through an
// Embedding (V, D) and an LSTM (U, last step).
func embeddingLSTM(r *rand.Rand, t, v, d, u int) *lite.Model {
	c := lstmCase{t: t, f: d, u: u, e: -11, sIn: 0.01, sOut: 0.0078, zpOut: 3, wScale: 0.01, bias: true}
	m := lstmModel(r, c)
	tab := lite.Op{Type: lite.OpEmbedding, Name: "embedding", Inputs: []int{2}, Output: 0, WeightShape: tensor.Shape{v, d},
		WeightBits: 8, Weights: make([]int8, v*d), WeightScales: []float32{m.Tensors[0].Scale}}
	for i := range tab.Weights {
		tab.Weights[i] = int8(r.IntN(255) - 127)
	}
	m.Tensors[0].ZeroPoint = 0
	m.Tensors = append(m.Tensors, lite.Tensor{Name: "ids", Shape: tensor.Shape{t}, DType: lite.Float32})
	m.Ops = append([]lite.Op{tab}, m.Ops...)
	m.Inputs = []int{2}
	return m
}

// TestConformanceEmbedding runs Embedding (CAST and GATHER) into an LSTM
// in TFLite's runtime on random whole indices: every value identical in
// rounding tflite.
func TestConformanceEmbedding(t *testing.T) {
	if os.Getenv("GOQAT_TFLITE_CONFORMANCE") != "1" {
		t.Skip("TFLite conformance runs with GOQAT_TFLITE_CONFORMANCE=1 (scripts/tflite_conformance.sh)")
	}
	dir := tfliteDir(t)
	r := rand.New(rand.NewPCG(7, 8))
	const n, steps, v = 16, 10, 30
	m := embeddingLSTM(r, steps, v, 6, 8)
	fi, err := FullInteger(m)
	if err != nil {
		t.Fatal(err)
	}
	file, err := Marshal(fi, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(n, steps)
	raw := make([]byte, 0, 4*len(x.Data))
	for i := range x.Data {
		x.Data[i] = float32(r.IntN(v))
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x.Data[i]))
	}
	got := int8sOf(runTFLite(t, dir, file, raw, n, "fresh"))
	tm := *fi
	tm.Rounding = lite.RoundingTFLite
	it, err := lite.NewInterpreter(&tm)
	if err != nil {
		t.Fatal(err)
	}
	var want []int8
	for s := range n {
		xs := tensor.New(1, steps)
		copy(xs.Data, x.Data[s*steps:(s+1)*steps])
		if err := it.SetInput(0, xs); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		want = append(want, it.OutputInt8(0).Data...)
	}
	a := compareCodes(want, got, 8)
	t.Logf("embedding+LSTM rounding tflite: %d samples: values identical %d/%d (max |diff| %d)", n, a.same, a.values, a.maxDiff)
	if a.same != a.values {
		t.Errorf("rounding tflite: values identical on %d of %d, want all", a.same, a.values)
	}
}

// TestLSTMRoundTrip exports the hand-made LSTM and Embedding models, reads
// them back and checks the same ops (an LSTM's last step folded back) and
// bit-identical outputs in both roundings. A reversed input (go_backwards,
// a STRIDED_SLICE of stride -1) is refused on reading with an error.
func TestLSTMRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range lstmCases {
		m := lstmModel(r, c)
		file, err := Marshal(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := Read(file)
		if c.back {
			if err == nil || !strings.Contains(err.Error(), "stride") {
				t.Errorf("%v: reading a reversed input: %v", c, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if len(back.Ops) != 1 || back.Ops[0].Type != lite.OpLSTM || back.Ops[0].ReturnSequences != c.seq ||
			back.Ops[0].CellExponent != c.e || !slices.Equal(back.Ops[0].WeightScales, m.Ops[0].WeightScales) ||
			!slices.Equal(back.Ops[0].Weights, m.Ops[0].Weights) {
			t.Fatalf("%v: read back as %+v", c, back.Ops)
		}
		x := lstmInputs(r, m, 4)
		for _, mode := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
			a, b := *m, *back
			a.Rounding, b.Rounding = mode, mode
			if !slices.Equal(runGoqatN(t, &a, x), runGoqatN(t, &b, x)) {
				t.Errorf("%v rounding %s: outputs differ after the round trip", c, mode)
			}
		}
	}
	m := embeddingLSTM(r, 5, 12, 4, 6)
	fi, err := FullInteger(m)
	if err != nil {
		t.Fatal(err)
	}
	file, err := Marshal(fi, Options{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Ops) != 2 || back.Ops[0].Type != lite.OpEmbedding || back.Ops[1].Type != lite.OpLSTM {
		t.Fatalf("Embedding and LSTM read back as %+v", back.Ops)
	}
	if !slices.Equal(back.Ops[0].Weights, m.Ops[0].Weights) || back.Ops[0].WeightScales[0] != m.Ops[0].WeightScales[0] {
		t.Error("Embedding table changed in the round trip")
	}
}
