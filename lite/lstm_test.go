package lite

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// lstmCase describes one integer LSTM model of the tests.
type lstmCase struct {
	t, f, u, bits, e int
	seq, back        bool
	bias             bool
	rnn              bool // a SimpleRNN (one gate, no cell)
	gru              bool // a GRU (three gates, two biases)
}

// lstmModel returns a model with an int8 input (T, F) and one LSTM op of
// random weights, scales and biases drawn from r.
func lstmModel(c lstmCase, r *rand.Rand) *Model {
	gates, typ := 4, OpLSTM
	if c.rnn {
		gates, typ = 1, OpSimpleRNN
	}
	if c.gru {
		gates, typ = 3, OpGRU
	}
	gu := gates * c.u
	lim := 1<<(c.bits-1) - 1
	w := make([]int8, (c.f+c.u)*gu)
	for i := range w {
		w[i] = int8(r.IntN(2*lim+1) - lim)
	}
	sc := make([]float32, 2*gu)
	for i := range sc {
		sc[i] = (0.2 + r.Float32()) / float32(lim) * 1.5
	}
	var b []int32
	if c.bias {
		b = make([]int32, gu)
		if c.gru {
			b = make([]int32, 2*gu)
		}
		for i := range b {
			b[i] = r.Int32N(4001) - 2000
		}
	}
	out := []int{c.u}
	if c.seq {
		out = []int{c.t, c.u}
	}
	return &Model{Name: "lstm",
		Tensors: []Tensor{i8t("x", 0.04, -7, c.t, c.f), i8t("h", 1.0/128, 3, out...)},
		Ops: []Op{{Type: typ, Name: "lstm", Inputs: []int{0}, Output: 1, WeightShape: []int{c.f + c.u, gu},
			WeightBits: c.bits, WeightScales: sc, Weights: w, Bias: b, CellExponent: c.e, ReturnSequences: c.seq, GoBackwards: c.back}},
		Inputs: []int{0}, Outputs: []int{1}}
}

// refLSTM is the integer LSTM written out per sample, step, unit and gate
// from the formulas at the top of lstm.go, reading the op directly.
func refLSTM(m *Model, x []int8, n int) []int8 {
	op := &m.Ops[0]
	tin, tout := &m.Tensors[0], &m.Tensors[1]
	T, F := tin.Shape[0], tin.Shape[1]
	gu := op.WeightShape[1]
	rnn, gru := op.Type == OpSimpleRNN, op.Type == OpGRU
	U := gu / 4
	if rnn {
		U = gu
	}
	if gru {
		U = gu / 3
	}
	m1m2, shift, err := qmath.CommonMultipliers(math.Ldexp(1, -15), math.Ldexp(1, -30)/float64(tout.Scale))
	if err != nil {
		panic(err)
	}
	mult := func(real float64) qmath.Multiplier {
		mm, err := qmath.NewMultiplier(real)
		if err != nil {
			panic(err)
		}
		return mm
	}
	sig := func(z int64) int64 {
		return int64(qmath.QuantizeValue(float32(qmath.Sigmoid(float64(z)/4096)), 1.0/32768, 0, -32768, 32767))
	}
	tnh := func(z int64) int64 {
		return int64(qmath.QuantizeValue(float32(math.Tanh(float64(z)/4096)), 1.0/32768, 0, -32768, 32767))
	}
	s16 := func(v int64) int64 { return min(max(v, -32768), 32767) }
	lo, hi := tout.QRange()
	mh := mult(math.Ldexp(1, -30) / float64(tout.Scale))
	if rnn {
		mh = mult(math.Ldexp(1, -15) / float64(tout.Scale))
	}
	var y []int8
	for i := 0; i < n; i++ {
		h := make([]int64, U)
		for j := range h {
			h[j] = int64(tout.ZeroPoint)
		}
		c := make([]int64, U)
		for s := 0; s < T; s++ {
			ti := s
			if op.GoBackwards {
				ti = T - 1 - s
			}
			if op.Masking && padStep(x[(i*T+ti)*F:(i*T+ti+1)*F], tin.ZeroPoint) {
				// Padding: h and c carried over (lstm_mask_test.go).
				for u := 0; u < U && (op.ReturnSequences || s == T-1); u++ {
					y = append(y, int8(h[u]))
				}
				continue
			}
			z := make([]int64, gu)
			pxs, prs := make([]int64, gu), make([]int64, gu)
			for j := 0; j < gu; j++ {
				var ax, ar int64
				if op.Bias != nil {
					ax = int64(op.Bias[j])
					if gru {
						ar = int64(op.Bias[gu+j])
					}
				}
				for f := 0; f < F; f++ {
					ax += (int64(x[(i*T+ti)*F+f]) - int64(tin.ZeroPoint)) * int64(op.Weights[f*gu+j])
				}
				for u := 0; u < U; u++ {
					ar += (h[u] - int64(tout.ZeroPoint)) * int64(op.Weights[(F+u)*gu+j])
				}
				px := s16(int64(mult(float64(tin.Scale) * float64(op.WeightScales[j]) * 4096).Apply(int32(ax))))
				pr := s16(int64(mult(float64(tout.Scale) * float64(op.WeightScales[gu+j]) * 4096).Apply(int32(ar))))
				z[j] = s16(px + pr)
				if gru {
					pxs[j], prs[j] = px, pr
				}
			}
			for u := 0; u < U && gru; u++ {
				zg, rg := sig(s16(pxs[u]+prs[u])), sig(s16(pxs[U+u]+prs[U+u]))
				rq := s16(qmath.RoundShift(rg*prs[2*U+u], 15))
				ng := tnh(s16(pxs[2*U+u] + rq))
				acc := zg*(h[u]-int64(tout.ZeroPoint))*m1m2[0] + (32768-zg)*ng*m1m2[1]
				h[u] = min(max(qmath.RoundShift(acc, shift)+int64(tout.ZeroPoint), int64(lo)), int64(hi))
			}
			for u := 0; u < U && rnn; u++ {
				h[u] = int64(qmath.Requantize(int32(tnh(z[u])), mh, tout.ZeroPoint, lo, hi))
			}
			for u := 0; u < U && !rnn && !gru; u++ {
				ig, fg, gg, og := sig(z[u]), sig(z[U+u]), tnh(z[2*U+u]), sig(z[3*U+u])
				c[u] = s16(qmath.RoundShift(fg*c[u], 15) + qmath.RoundShift(ig*gg, uint(30+op.CellExponent)))
				tc := tnh(s16(c[u] * (1 << (12 + op.CellExponent))))
				h[u] = int64(qmath.Requantize(int32(og*tc), mh, tout.ZeroPoint, lo, hi))
			}
			if op.ReturnSequences || s == T-1 {
				for u := 0; u < U; u++ {
					y = append(y, int8(h[u]))
				}
			}
		}
	}
	return y
}

// runInt8 runs m on int8 input x of n samples with the given thread cap.
func runInt8(t *testing.T, m *Model, x []int8, n, threads int) []int8 {
	t.Helper()
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	it.SetThreads(threads)
	in := &tensor.Int8{Shape: append(tensor.Shape{n}, m.Tensors[m.Inputs[0]].Shape...), Data: x}
	if err := it.SetInputInt8(0, in); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

// TestLSTMMatchesReference runs the integer LSTM and SimpleRNN on odd
// shapes, every cell exponent range, both directions, with and without
// sequences and bias, 8- and 4-bit weights, and compares them code for
// code with the reference loop, at one and three threads (a split batch).
func TestLSTMMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	cases := []lstmCase{
		{t: 5, f: 3, u: 7, bits: 8, e: -11, bias: true},
		{t: 1, f: 1, u: 1, bits: 8, e: -12},
		{t: 6, f: 9, u: 5, bits: 8, e: -12, seq: true, bias: true},
		{t: 4, f: 2, u: 3, bits: 4, e: -7, back: true, bias: true},
		{t: 7, f: 5, u: 6, bits: 8, e: 0, seq: true, back: true},
		{t: 3, f: 17, u: 13, bits: 8, e: -10, seq: true, bias: true},
		{t: 5, f: 3, u: 7, bits: 8, bias: true, rnn: true},
		{t: 6, f: 9, u: 33, bits: 4, seq: true, back: true, rnn: true},
		{t: 1, f: 1, u: 1, bits: 8, rnn: true},
		{t: 5, f: 3, u: 7, bits: 8, bias: true, gru: true},
		{t: 6, f: 9, u: 11, bits: 4, seq: true, back: true, bias: true, gru: true},
		{t: 3, f: 2, u: 2, bits: 8, seq: true, gru: true},
	}
	for k, c := range cases {
		m := lstmModel(c, r)
		if err := m.Validate(); err != nil {
			t.Fatalf("case %d: %v", k, err)
		}
		for _, n := range []int{1, 5} {
			x := make([]int8, n*c.t*c.f)
			for i := range x {
				x[i] = int8(r.IntN(256) - 128)
			}
			want := refLSTM(m, x, n)
			for _, th := range []int{1, 3} {
				got := runInt8(t, m, x, n, th)
				if !bytes.Equal(i8bytes(got), i8bytes(want)) {
					t.Fatalf("case %d batch %d threads %d: got %v, want %v", k, n, th, got, want)
				}
			}
		}
	}
}

// i8bytes views codes as bytes for comparison.
func i8bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// TestLSTMFunctions checks the Q3.12 -> Q0.15 tables against the float
// functions (within half an LSB plus float32 rounding) and their
// monotonicity and symmetry.
func TestLSTMFunctions(t *testing.T) {
	prevS, prevT := int16(math.MinInt16), int16(math.MinInt16)
	for q := -32768; q < 32768; q++ {
		x := float64(q) / 4096
		s, th := Sigmoid16(int16(q)), Tanh16(int16(q))
		if d := math.Abs(float64(s) - math.Min(qmath.Sigmoid(x)*32768, 32767)); d > 0.503 {
			t.Fatalf("Sigmoid16(%d) = %d, off by %v", q, s, d)
		}
		if d := math.Abs(float64(th) - math.Max(math.Min(math.Tanh(x)*32768, 32767), -32768)); d > 0.503 {
			t.Fatalf("Tanh16(%d) = %d, off by %v", q, th, d)
		}
		if s < prevS || th < prevT {
			t.Fatalf("not monotonic at %d", q)
		}
		prevS, prevT = s, th
		if q > -32768 && q < 32767 && th > -32768 && th < 32767 && Tanh16(int16(-q)) != -th {
			t.Fatalf("Tanh16 not odd at %d: %d vs %d", q, th, Tanh16(int16(-q)))
		}
	}
	if Sigmoid16(0) != 16384 || Tanh16(0) != 0 {
		t.Fatalf("Sigmoid16(0) = %d, Tanh16(0) = %d", Sigmoid16(0), Tanh16(0))
	}
}

// TestLSTMSaveLoad saves and loads LSTM models (8- and 4-bit weights) and
// checks that every field and every output code survive.
func TestLSTMSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2))
	for _, c := range []lstmCase{{t: 4, f: 3, u: 5, bits: 8, e: -11, seq: true, back: true, bias: true}, {t: 2, f: 6, u: 3, bits: 4, e: -12},
		{t: 3, f: 2, u: 4, bits: 8, seq: true, bias: true, rnn: true}, {t: 3, f: 2, u: 4, bits: 8, seq: true, bias: true, gru: true}} {
		m := lstmModel(c, r)
		path := filepath.Join(t.TempDir(), "lstm.safetensors")
		if err := Save(path, m); err != nil {
			t.Fatal(err)
		}
		l, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		a, b := &m.Ops[0], &l.Ops[0]
		if a.CellExponent != b.CellExponent || a.ReturnSequences != b.ReturnSequences || a.GoBackwards != b.GoBackwards || a.Masking != b.Masking ||
			!bytes.Equal(i8bytes(a.Weights), i8bytes(b.Weights)) || len(a.Bias) != len(b.Bias) || !a.WeightShape.Equal(b.WeightShape) {
			t.Fatalf("op changed in the round trip: %+v", b)
		}
		for i := range a.Bias {
			if a.Bias[i] != b.Bias[i] {
				t.Fatal("bias changed")
			}
		}
		x := make([]int8, 2*c.t*c.f)
		for i := range x {
			x[i] = int8(r.IntN(256) - 128)
		}
		if !bytes.Equal(i8bytes(runInt8(t, m, x, 2, 1)), i8bytes(runInt8(t, l, x, 2, 1))) {
			t.Fatal("outputs differ after the round trip")
		}
	}
}

// TestLSTMRejectsBadOps checks that malformed LSTM ops (and LSTM
// attributes on other ops) are refused with a one-line error by Validate
// and by Load.
func TestLSTMRejectsBadOps(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 3))
	edits := map[string]func(m *Model){
		"cell exponent low":   func(m *Model) { m.Ops[0].CellExponent = -13 },
		"cell exponent high":  func(m *Model) { m.Ops[0].CellExponent = 1 },
		"weight rows":         func(m *Model) { m.Ops[0].WeightShape = []int{7, 20} },
		"gate columns":        func(m *Model) { m.Ops[0].WeightShape = []int{8, 18}; m.Ops[0].Weights = m.Ops[0].Weights[:8*18] },
		"scales":              func(m *Model) { m.Ops[0].WeightScales = m.Ops[0].WeightScales[:20] },
		"bias":                func(m *Model) { m.Ops[0].Bias = m.Ops[0].Bias[:3] },
		"weight range":        func(m *Model) { m.Ops[0].Weights[0] = -128 },
		"huge scale":          func(m *Model) { m.Ops[0].WeightScales[0] = 1e30 },
		"output shape":        func(m *Model) { m.Tensors[1].Shape = []int{4, 5} },
		"input rank":          func(m *Model) { m.Tensors[0].Shape = []int{4, 3, 1} },
		"activation":          func(m *Model) { m.Ops[0].Activation = "relu" },
		"huge weight shape":   func(m *Model) { m.Ops[0].WeightShape = []int{1 << 40, 1 << 40} },
		"negative dimensions": func(m *Model) { m.Ops[0].WeightShape = []int{-8, -20} },
	}
	for name, edit := range edits {
		m := lstmModel(lstmCase{t: 4, f: 3, u: 5, bits: 8, e: -11, bias: true}, r)
		edit(m)
		_, err := NewInterpreter(m)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
	// A cell exponent on a SimpleRNN.
	rm := lstmModel(lstmCase{t: 4, f: 3, u: 5, bits: 8, rnn: true}, r)
	rm.Ops[0].CellExponent = -11
	if err := rm.Validate(); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("cell exponent on a SimpleRNN: %v", err)
	}
	// LSTM attributes on another op.
	m := tinyModel(8)
	m.Ops[len(m.Ops)-1].GoBackwards = true
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "LSTM attributes") {
		t.Errorf("LSTM attribute on %s: %v", m.Ops[len(m.Ops)-1].Type, err)
	}
}
