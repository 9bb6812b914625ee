package quantize

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// newTestLSTM returns a built QuantizeLSTM (8-bit scheme) and an nn.LSTM
// with the same random weights, or for kind "rnn" ("gru") a
// QuantizeSimpleRNN (QuantizeGRU; its QuantizeLSTM) and an nn.SimpleRNN
// (nn.GRU).
func newTestLSTM(t *testing.T, r *rand.Rand, o nn.RecurrentOptions, steps, feats int, kind string) (*QuantizeLSTM, nn.Layer) {
	t.Helper()
	s := Default8Bit
	cfg := LSTMConfig{LSTM: o, Kernel: s.Weight(1), Recurrent: s.Weight(1), Output: s.Activation()}
	l, err := NewQuantizeLSTM(cfg)
	var f nn.Layer = &nn.LSTM{RecurrentOptions: o}
	switch kind {
	case "rnn":
		var q *QuantizeSimpleRNN
		q, err = NewQuantizeSimpleRNN(cfg)
		if q != nil {
			l = &q.QuantizeLSTM
		}
		f = &nn.SimpleRNN{RecurrentOptions: o}
	case "gru":
		var q *QuantizeGRU
		q, err = NewQuantizeGRU(cfg)
		if q != nil {
			l = &q.QuantizeLSTM
		}
		f = &nn.GRU{RecurrentOptions: o}
	}
	if err != nil {
		t.Fatal(err)
	}
	in := []tensor.Shape{{steps, feats}}
	if _, err := l.Build(in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Build(in); err != nil {
		t.Fatal(err)
	}
	l.InitWeights(r)
	for _, p := range l.inner.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(r.NormFloat64() * 0.2)
		}
	}
	for i, p := range f.Params() {
		copy(p.Value.Data, l.inner.Params()[i].Value.Data)
	}
	return l, f
}

var lstmVariants = []nn.RecurrentOptions{
	{Units: 5, UseBias: true},
	{Units: 3, UseBias: true, ReturnSequences: true, GoBackwards: true},
	{Units: 4, ReturnSequences: true},
}

// rnnVariant is one layer configuration of the tests: an LSTM ("lstm"),
// SimpleRNN ("rnn") or GRU ("gru").
type rnnVariant struct {
	o    nn.RecurrentOptions
	kind string
}

// rnnVariants returns lstmVariants as LSTMs, SimpleRNNs and GRUs.
func rnnVariants() []rnnVariant {
	var vs []rnnVariant
	for _, kind := range []string{"lstm", "rnn", "gru"} {
		for _, o := range lstmVariants {
			vs = append(vs, rnnVariant{o, kind})
		}
	}
	return vs
}

// TestQuantizeLSTMFloat checks the layer with its fake quant off: its
// forward pass equals nn.LSTM's, and its backpropagation through time
// matches finite differences (input and every weight).
func TestQuantizeLSTMFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 10))
	for k, v := range rnnVariants() {
		o := v.o
		l, f := newTestLSTM(t, r, o, 4, 3, v.kind)
		l.float = true
		x := randTensor(r, 2, 4, 3)
		train := func() *nn.Context { return &nn.Context{Training: true} }
		got := l.Forward(train(), []*tensor.Tensor{x}).Clone()
		want := f.Forward(train(), []*tensor.Tensor{x})
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-5 {
				t.Fatalf("variant %d: output %d = %v, nn.LSTM %v", k, i, got.Data[i], want.Data[i])
			}
		}
		gradCheck(t, l, train, 1e-2, 2e-2, x, r)
	}
}

// cosine returns the cosine similarity of a and b over the indices where
// a is not zero.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		if a[i] == 0 {
			continue
		}
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestQuantizeLSTMStraightThrough checks that the quantized layer's
// straight-through gradients point where the float LSTM's do (cosine
// above 0.9 for the input and each weight) and that its output stays
// near the float output (rms within 2 output steps, every value within
// 0.05).
func TestQuantizeLSTMStraightThrough(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 11))
	for k, v := range rnnVariants() {
		o := v.o
		l, f := newTestLSTM(t, r, o, 6, 5, v.kind)
		x := randTensor(r, 16, 6, 5)
		train := &nn.Context{Training: true}
		y := l.Forward(train, []*tensor.Tensor{x}).Clone()
		yf := f.Forward(train, []*tensor.Tensor{x})
		s, _ := l.oq.Scales()
		var sq float64
		for i := range y.Data {
			d := math.Abs(float64(y.Data[i] - yf.Data[i]))
			sq += d * d
			if d > 0.05 {
				t.Fatalf("variant %d: output %d = %v, float %v", k, i, y.Data[i], yf.Data[i])
			}
		}
		if rms := math.Sqrt(sq / float64(len(y.Data))); rms > 2*float64(s[0]) {
			t.Errorf("variant %d: rms difference %v, over 2 output steps (%v)", k, rms, s[0])
		}
		R := randTensor(r, y.Shape...)
		dx := l.Backward(train, R)[0].Clone()
		dxf := f.Backward(train, R)[0]
		if c := cosine(dx.Data, dxf.Data); c < 0.9 {
			t.Errorf("variant %d: input gradient cosine %.3f", k, c)
		}
		for i, p := range f.Params() {
			// A weight at the edge of its channel's range may get no
			// gradient (its fake quant clamps it, LastValue's STE): those
			// are left out.
			if c := cosine(l.inner.Params()[i].Grad.Data, p.Grad.Data); c < 0.9 {
				t.Errorf("variant %d: %s gradient cosine %.3f", k, p.Name, c)
			}
		}
	}
}

// lstmQATModel returns a QAT model Input (T, F) -> LSTM -> Dense(3) made
// by Model, its ranges set by a few training passes on random data.
func lstmQATModel(t *testing.T, r *rand.Rand, o nn.RecurrentOptions, steps, feats int, kind string) (*nn.Model, *tensor.Tensor) {
	t.Helper()
	var layers []nn.Layer
	switch kind {
	case "rnn":
		layers = append(layers, &nn.SimpleRNN{RecurrentOptions: o})
	case "gru":
		layers = append(layers, &nn.GRU{RecurrentOptions: o})
	default:
		layers = append(layers, &nn.LSTM{RecurrentOptions: o})
	}
	if o.ReturnSequences {
		layers = append(layers, nn.NewFlatten())
	}
	layers = append(layers, nn.NewDense(3))
	m, err := nn.NewSequential(tensor.Shape{steps, feats}, layers...)
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(r.Uint64())
	qm, err := Model(m)
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(r, 16, steps, feats)
	for i := 0; i < 3; i++ {
		if _, err := qm.Forward(&nn.Context{Training: true}, x); err != nil {
			t.Fatal(err)
		}
	}
	return qm, x
}

// TestQuantizeLSTMExactVersusSimulation checks that the fake quant sits
// where the integer LSTM rounds: the float simulation (the training pass
// with frozen ranges) and the exact integer inference give the same
// output codes up to float32 rounding: at least 98% equal, all within 2.
func TestQuantizeLSTMExactVersusSimulation(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 12))
	for k, v := range rnnVariants() {
		qm, x := lstmQATModel(t, r, v.o, 7, 5, v.kind)
		var l *QuantizeLSTM
		for _, ly := range qm.Layers() {
			switch q := ly.(type) {
			case *QuantizeLSTM:
				l = q
			case *QuantizeSimpleRNN:
				l = &q.QuantizeLSTM
			case *QuantizeGRU:
				l = &q.QuantizeLSTM
			}
		}
		if l == nil || !l.linked {
			t.Fatalf("variant %d: no linked QuantizeLSTM in %v", k, qm.Layers())
		}
		in := qm.Layers()[0].(*QuantizeInput)
		xq := in.Forward(&nn.Context{}, []*tensor.Tensor{x})
		exact := l.Forward(&nn.Context{}, []*tensor.Tensor{xq}).Clone()
		l.linked = false
		sim := l.Forward(&nn.Context{}, []*tensor.Tensor{xq}).Clone()
		l.linked = true
		s, zp := l.oq.Scales()
		same, vals := 0, 0
		for i := range exact.Data {
			a := qmath.QuantizeValue(exact.Data[i], s[0], zp[0], -128, 127)
			b := qmath.QuantizeValue(sim.Data[i], s[0], zp[0], -128, 127)
			d := a - b
			if d < -2 || d > 2 {
				t.Fatalf("variant %d: value %d: exact code %d, simulated %d", k, i, a, b)
			}
			vals++
			if d == 0 {
				same++
			}
		}
		if float64(same) < 0.98*float64(vals) {
			t.Errorf("variant %d: %d of %d codes equal", k, same, vals)
		}
	}
}

// TestQuantizeLSTMSaveLoad saves QAT LSTM, SimpleRNN and GRU models and
// checks that the loaded ones have the same cell exponent and compute the
// same outputs.
func TestQuantizeLSTMSaveLoad(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 13))
	for _, kind := range []string{"lstm", "rnn", "gru"} {
		saveLoadRecurrent(t, r, kind)
	}
}

// saveLoadRecurrent is TestQuantizeLSTMSaveLoad for one kind of layer.
func saveLoadRecurrent(t *testing.T, r *rand.Rand, kind string) {
	qm, x := lstmQATModel(t, r, lstmVariants[1], 5, 4, kind)
	path := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(path, qm); err != nil {
		t.Fatal(err)
	}
	lm, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := qm.Forward(&nn.Context{}, x)
	if err != nil {
		t.Fatal(err)
	}
	av := a[0].Clone()
	b, err := lm.Forward(&nn.Context{}, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range av.Data {
		if av.Data[i] != b[0].Data[i] {
			t.Fatalf("%s: output %d: %v before saving, %v after loading", kind, i, av.Data[i], b[0].Data[i])
		}
	}
	var e1, e2 int
	for _, l := range qm.Layers() {
		if q, ok := l.(*QuantizeLSTM); ok {
			e1 = q.CellExponent()
		}
	}
	for _, l := range lm.Layers() {
		if q, ok := l.(*QuantizeLSTM); ok {
			e2 = q.CellExponent()
		}
	}
	if e1 != e2 {
		t.Fatalf("%s: cell exponent %d, %d after loading", kind, e1, e2)
	}
}

// TestQuantizeLSTMRejects checks the configurations the quantized LSTM
// refuses: asymmetric kernels, a per-axis output.
func TestQuantizeLSTMRejects(t *testing.T) {
	s := Default8Bit
	ok := LSTMConfig{LSTM: nn.RecurrentOptions{Units: 2}, Kernel: s.Weight(1), Recurrent: s.Weight(1), Output: s.Activation()}
	bad := map[string]func(c *LSTMConfig){
		"units":      func(c *LSTMConfig) { c.LSTM.Units = 0 },
		"asymmetric": func(c *LSTMConfig) { c.Kernel.Symmetric = false },
		"per-axis":   func(c *LSTMConfig) { c.Output = s.Weight(0) },
		"bits":       func(c *LSTMConfig) { c.Output.Bits = 9 },
	}
	for name, edit := range bad {
		c := ok
		edit(&c)
		if _, err := NewQuantizeLSTM(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewQuantizeLSTM(ok); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[float32]int{0: -12, 5: -12, 8: -12, 8.5: -11, 16: -11, 17: -10, 1e9: 0} {
		if got := cellExponent(m); got != want {
			t.Errorf("cellExponent(%v) = %d, want %d", m, got, want)
		}
	}
}

// TestQuantizeLSTMHostileConfigs builds QuantizeLSTM layers from hostile
// saved configurations, as nn.Load does: each is refused with a one-line
// error, before any large allocation.
func TestQuantizeLSTMHostileConfigs(t *testing.T) {
	k := `{"kind":"last_value","bits":8,"narrow_range":true,"symmetric":true,"per_axis":true,"axis":1}`
	o := `{"kind":"moving_average","bits":8}`
	cfg := func(lstm, kernel string) string {
		return `{"lstm":` + lstm + `,"kernel_quantizer":` + kernel + `,"recurrent_quantizer":` + k + `,"output_quantizer":` + o + `}`
	}
	cases := map[string]struct {
		raw string
		in  tensor.Shape
	}{
		"huge units":     {cfg(`{"units":1099511627776,"use_bias":true}`, k), tensor.Shape{4, 3}},
		"negative units": {cfg(`{"units":-3}`, k), tensor.Shape{4, 3}},
		"huge features":  {cfg(`{"units":64}`, k), tensor.Shape{2, 1 << 40}},
		"bad input rank": {cfg(`{"units":4}`, k), tensor.Shape{4, 3, 2}},
		"bad bits":       {cfg(`{"units":4}`, `{"kind":"last_value","bits":99,"symmetric":true}`), tensor.Shape{4, 3}},
		"unknown field":  {`{"lstm":{"units":4},"extra":1}`, tensor.Shape{4, 3}},
	}
	for _, typ := range []string{"QuantizeLSTM", "QuantizeSimpleRNN", "QuantizeGRU"} {
		for name, c := range cases {
			l, err := nn.NewLayer(typ, "lstm", []byte(c.raw))
			if err == nil {
				_, err = l.Build([]tensor.Shape{c.in})
			}
			if err == nil {
				t.Errorf("%s %s: accepted", typ, name)
				continue
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%s %s: multi-line error %q", typ, name, err)
			}
		}
	}
}
