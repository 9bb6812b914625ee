package quantize

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// bidiKinds maps the tests' kinds to the wrapped layer's type.
var bidiKinds = map[string]string{"lstm": "LSTM", "rnn": "SimpleRNN", "gru": "GRU"}

// bidiVariants returns the Bidirectional configurations of the tests:
// last output and sequences, with and without Masking, for each kind.
func bidiVariants() []rnnVariant {
	var vs []rnnVariant
	for _, kind := range []string{"lstm", "rnn", "gru"} {
		for _, o := range []nn.RecurrentOptions{
			{Units: 4, UseBias: true},
			{Units: 3, UseBias: true, ReturnSequences: true},
			{Units: 4, UseBias: true, Masking: true},
			{Units: 3, ReturnSequences: true, Masking: true},
		} {
			vs = append(vs, rnnVariant{o, kind})
		}
	}
	return vs
}

// newTestBidi returns a built QuantizeBidirectional (8-bit scheme) and an
// nn.Bidirectional with the same random weights.
func newTestBidi(t *testing.T, r *rand.Rand, v rnnVariant, steps, feats int) (*QuantizeBidirectional, *nn.Bidirectional) {
	t.Helper()
	s := Default8Bit
	cfg := BidirectionalConfig{Layer: bidiKinds[v.kind], Forward: LSTMConfig{LSTM: v.o, Kernel: s.Weight(1), Recurrent: s.Weight(1), Output: s.Activation()}}
	l, err := NewQuantizeBidirectional(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var inner nn.Layer
	switch v.kind {
	case "rnn":
		inner = &nn.SimpleRNN{RecurrentOptions: v.o}
	case "gru":
		inner = &nn.GRU{RecurrentOptions: v.o}
	default:
		inner = &nn.LSTM{RecurrentOptions: v.o}
	}
	f, err := nn.NewBidirectional(inner)
	if err != nil {
		t.Fatal(err)
	}
	l.SetName("bidi")
	f.SetName("bidi")
	in := []tensor.Shape{{steps, feats}}
	if _, err := l.Build(in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Build(in); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*nn.Param{}
	for _, p := range l.Params() {
		byName[p.Name] = p
	}
	for _, p := range f.Params() {
		q, ok := byName[p.Name]
		if !ok {
			t.Fatalf("nn.Bidirectional's %s has no QAT counterpart", p.Name)
		}
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64() * 0.4)
		}
		copy(q.Value.Data, p.Value.Data)
	}
	return l, f
}

// TestQuantizeBidirectionalFloat checks the layer with its fake quant off:
// its forward pass and gradients equal nn.Bidirectional's (the backward
// direction re-reversed, zeros at padding steps), and its gradients match
// finite differences.
func TestQuantizeBidirectionalFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 90))
	for k, v := range bidiVariants() {
		l, f := newTestBidi(t, r, v, 5, 3)
		l.float = true
		x := randTensor(r, 4, 5, 3)
		if v.o.Masking {
			padSteps(x)
		}
		train := func() *nn.Context { return &nn.Context{Training: true} }
		got := l.Forward(train(), []*tensor.Tensor{x}).Clone()
		want := f.Forward(train(), []*tensor.Tensor{x})
		if !got.Shape.Equal(want.Shape) {
			t.Fatalf("variant %d: shape %v, nn %v", k, got.Shape, want.Shape)
		}
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-5 {
				t.Fatalf("variant %d: output %d = %v, nn %v", k, i, got.Data[i], want.Data[i])
			}
		}
		R := randTensor(r, got.Shape...)
		dx := l.Backward(train(), R)[0].Clone()
		dxf := f.Backward(train(), R)[0]
		for i := range dx.Data {
			if d := math.Abs(float64(dx.Data[i] - dxf.Data[i])); d > 1e-4*max(1, math.Abs(float64(dxf.Data[i]))) {
				t.Fatalf("variant %d: dx[%d] = %v, nn %v", k, i, dx.Data[i], dxf.Data[i])
			}
		}
		byName := map[string]*nn.Param{}
		for _, p := range l.Params() {
			byName[p.Name] = p
		}
		for _, p := range f.Params() {
			for j, g := range byName[p.Name].Grad.Data {
				if d := math.Abs(float64(g - p.Grad.Data[j])); d > 1e-4*max(1, math.Abs(float64(p.Grad.Data[j]))) {
					t.Fatalf("variant %d: %s gradient %d = %v, nn %v", k, p.Name, j, g, p.Grad.Data[j])
				}
			}
		}
		maskedGradCheck(t, l, train, 1e-2, 2e-2, x, r)
	}
}

// TestQuantizeBidirectionalStraightThrough checks that the quantized
// layer stays near the float one (every value within 0.05) and that its
// straight-through gradients point where the float gradients do (cosine
// above 0.9 for the input and each weight).
func TestQuantizeBidirectionalStraightThrough(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 91))
	for k, v := range bidiVariants() {
		l, f := newTestBidi(t, r, v, 6, 5)
		x := randTensor(r, 16, 6, 5)
		if v.o.Masking {
			padSteps(x)
		}
		train := &nn.Context{Training: true}
		y := l.Forward(train, []*tensor.Tensor{x}).Clone()
		yf := f.Forward(train, []*tensor.Tensor{x})
		for i := range y.Data {
			if d := math.Abs(float64(y.Data[i] - yf.Data[i])); d > 0.05 {
				t.Fatalf("variant %d: output %d = %v, float %v", k, i, y.Data[i], yf.Data[i])
			}
		}
		R := randTensor(r, y.Shape...)
		dx := l.Backward(train, R)[0].Clone()
		dxf := f.Backward(train, R)[0]
		if c := cosine(dx.Data, dxf.Data); c < 0.9 {
			t.Errorf("variant %d: input gradient cosine %.3f", k, c)
		}
		byName := map[string]*nn.Param{}
		for _, p := range l.Params() {
			byName[p.Name] = p
		}
		for _, p := range f.Params() {
			if c := cosine(byName[p.Name].Grad.Data, p.Grad.Data); c < 0.9 {
				t.Errorf("variant %d: %s gradient cosine %.3f", k, p.Name, c)
			}
		}
	}
}

// TestQuantizeBidirectionalShared checks the shared output quantizer: one
// set of its parameters (the forward core's), used by both cores, whose
// range covers both directions' outputs.
func TestQuantizeBidirectionalShared(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 92))
	l, _ := newTestBidi(t, r, rnnVariant{nn.RecurrentOptions{Units: 4, UseBias: true}, "lstm"}, 5, 3)
	if l.fwd.oq != l.oq || l.bwd.oq != l.oq {
		t.Fatal("the cores do not share the output quantizer")
	}
	n := 0
	for _, p := range l.Params() {
		if strings.Contains(p.Name, "output_quant") {
			n++
			if !strings.HasPrefix(p.Name, "forward/") {
				t.Errorf("output quantizer parameter %s outside the forward core", p.Name)
			}
		}
	}
	if n != len(l.oq.Params()) {
		t.Errorf("%d output quantizer parameters, the quantizer has %d", n, len(l.oq.Params()))
	}
	x := randTensor(r, 8, 5, 3)
	l.Forward(&nn.Context{Training: true}, []*tensor.Tensor{x})
	s, zp := l.oq.Scales()
	lo, hi := s[0]*float32(-128-zp[0]), s[0]*float32(127-zp[0])
	var fmin, fmax, bmin, bmax float32
	for _, c := range []struct {
		k        *QuantizeLSTM
		min, max *float32
	}{{l.fwd, &fmin, &fmax}, {l.bwd, &bmin, &bmax}} {
		for _, v := range c.k.hr[:8*5*4] {
			*c.min, *c.max = min(*c.min, v), max(*c.max, v)
		}
	}
	if tol := s[0]; min(fmin, bmin) < lo-tol || max(fmax, bmax) > hi+tol {
		t.Errorf("range [%v, %v] does not cover the outputs [%v, %v] (forward) and [%v, %v] (backward)", lo, hi, fmin, fmax, bmin, bmax)
	}
}

// bidiQATModel returns a QAT model Input (T, F) -> Bidirectional ->
// [Flatten] -> Dense(3) made by Model, its ranges set by a few training
// passes on random (padded with Masking) data.
func bidiQATModel(t *testing.T, r *rand.Rand, v rnnVariant, steps, feats int) (*nn.Model, *QuantizeBidirectional) {
	t.Helper()
	var inner nn.Layer
	switch v.kind {
	case "rnn":
		inner = &nn.SimpleRNN{RecurrentOptions: v.o}
	case "gru":
		inner = &nn.GRU{RecurrentOptions: v.o}
	default:
		inner = &nn.LSTM{RecurrentOptions: v.o}
	}
	b, err := nn.NewBidirectional(inner)
	if err != nil {
		t.Fatal(err)
	}
	layers := []nn.Layer{b}
	if v.o.ReturnSequences {
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
	if v.o.Masking {
		padSteps(x)
	}
	for i := 0; i < 3; i++ {
		if _, err := qm.Forward(&nn.Context{Training: true}, x); err != nil {
			t.Fatal(err)
		}
	}
	var l *QuantizeBidirectional
	for _, ly := range qm.Layers() {
		if q, ok := ly.(*QuantizeBidirectional); ok {
			l = q
		}
	}
	if l == nil || !l.linked {
		t.Fatalf("no linked QuantizeBidirectional in %v", qm.Layers())
	}
	return qm, l
}

// TestQuantizeBidirectionalExactVersusSimulation checks that the fake
// quant sits where the integer ops round: the float simulation (frozen
// ranges) and the exact integer inference give the same output codes up
// to float32 rounding (at least 98% equal, all within 2), and both output
// zeros at padding steps with sequences.
func TestQuantizeBidirectionalExactVersusSimulation(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 93))
	for k, v := range bidiVariants() {
		const steps, feats = 7, 5
		qm, l := bidiQATModel(t, r, v, steps, feats)
		x := randTensor(r, 16, steps, feats)
		if v.o.Masking {
			padSteps(x)
		}
		in := qm.Layers()[0].(*QuantizeInput)
		xq := in.Forward(&nn.Context{}, []*tensor.Tensor{x}).Clone()
		exact := l.Forward(&nn.Context{}, []*tensor.Tensor{xq}).Clone()
		l.linked = false
		sim := l.Forward(&nn.Context{}, []*tensor.Tensor{xq}).Clone()
		l.linked = true
		sc, zp := l.oq.Scales()
		same := 0
		for i := range exact.Data {
			a := qmath.QuantizeValue(exact.Data[i], sc[0], zp[0], -128, 127)
			b := qmath.QuantizeValue(sim.Data[i], sc[0], zp[0], -128, 127)
			if d := a - b; d < -2 || d > 2 {
				t.Fatalf("variant %d: value %d: exact code %d, simulated %d", k, i, a, b)
			}
			if a == b {
				same++
			}
		}
		if float64(same) < 0.98*float64(len(exact.Data)) {
			t.Errorf("variant %d: %d of %d codes equal", k, same, len(exact.Data))
		}
		if !v.o.ReturnSequences || !v.o.Masking {
			continue
		}
		u2 := 2 * v.o.Units
		for _, y := range []*tensor.Tensor{exact, sim} {
			for i := 0; i < 16; i++ {
				for s := 0; s < steps; s++ {
					if !isPad(x, i, s) {
						continue
					}
					for _, o := range y.Data[(i*steps+s)*u2 : (i*steps+s+1)*u2] {
						if o != 0 {
							t.Fatalf("variant %d: sample %d step %d (padding) outputs %v", k, i, s, y.Data[(i*steps+s)*u2:(i*steps+s+1)*u2])
						}
					}
				}
			}
		}
	}
}

// TestQuantizeBidirectionalRejects checks the one-line errors: a wrapped
// type other than LSTM, GRU and SimpleRNN, and a merge mode other than
// concat.
func TestQuantizeBidirectionalRejects(t *testing.T) {
	s := Default8Bit
	cfg := BidirectionalConfig{Layer: "Dense", Forward: LSTMConfig{LSTM: nn.RecurrentOptions{Units: 3}, Kernel: s.Weight(1), Recurrent: s.Weight(1), Output: s.Activation()}}
	if _, err := NewQuantizeBidirectional(cfg); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrapping a Dense: %v", err)
	}
	raw := []byte(`{"layer":{"class_name":"LSTM","config":{"units":3}},"merge_mode":"sum"}`)
	if _, err := wrapBidirectionalConfig(raw, s); err == nil || !strings.Contains(err.Error(), "concat") || strings.Contains(err.Error(), "\n") {
		t.Errorf("merge_mode sum: %v", err)
	}
}

// TestQuantizeBidirectionalSharedGradient checks that the shared output
// quantizer's trainable gradient (LSQ's step size) is the sum of both
// directions': the gradient is linear in dOut, so the one of the whole
// dOut must equal the sum of those of its forward half and its backward
// half alone.
func TestQuantizeBidirectionalSharedGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 94))
	for _, seq := range []bool{false, true} {
		v := rnnVariant{nn.RecurrentOptions{Units: 4, UseBias: true, ReturnSequences: seq}, "lstm"}
		s := Default8Bit
		out := s.Activation()
		out.Kind = KindLSQ
		cfg := BidirectionalConfig{Layer: "LSTM", Forward: LSTMConfig{LSTM: v.o, Kernel: s.Weight(1), Recurrent: s.Weight(1), Output: out}}
		l, err := NewQuantizeBidirectional(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.SetName("bidi")
		if _, err := l.Build([]tensor.Shape{{5, 3}}); err != nil {
			t.Fatal(err)
		}
		l.InitWeights(r)
		x := randTensor(r, 6, 5, 3)
		train := &nn.Context{Training: true}
		y := l.Forward(train, []*tensor.Tensor{x}).Clone()
		R := randTensor(r, y.Shape...)
		grad := func(keep func(j int) bool) []float32 {
			d := R.Clone()
			for i := range d.Data {
				if !keep(i % (2 * 4)) {
					d.Data[i] = 0
				}
			}
			l.Forward(train, []*tensor.Tensor{x})
			l.Backward(train, d)
			var g []float32
			for _, p := range l.oq.Params() {
				if p.Trainable && p.Grad != nil {
					g = append(g, p.Grad.Data...)
				}
			}
			return g
		}
		all := grad(func(int) bool { return true })
		gf := grad(func(j int) bool { return j < 4 })
		gb := grad(func(j int) bool { return j >= 4 })
		if len(all) == 0 {
			t.Fatal("the LSQ output quantizer has no trainable parameter")
		}
		for i := range all {
			if sum := gf[i] + gb[i]; math.Abs(float64(all[i]-sum)) > 1e-4*max(1, math.Abs(float64(sum))) || gf[i] == 0 || gb[i] == 0 {
				t.Errorf("sequences %v: step gradient %d = %v, forward half %v + backward half %v", seq, i, all[i], gf[i], gb[i])
			}
		}
	}
}
