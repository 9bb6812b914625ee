package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

func TestConv1DGradients(t *testing.T) {
	for _, c := range []struct {
		k, stride, dil int
		padding        string
	}{
		{3, 1, 1, "valid"}, {3, 2, 1, "same"}, {2, 1, 2, "causal"}, {3, 2, 2, "causal"}, {4, 3, 1, "same"}, {2, 2, 2, "valid"},
	} {
		l := NewConv1D(4, c.k)
		l.Strides, l.DilationRate, l.Padding = c.stride, c.dil, c.padding
		gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{9, 3})
	}
	l := NewConv1D(2, 3)
	l.UseBias = false
	gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{5, 2})
}

// TestConv1DReference checks Conv1D against a direct loop, including the
// output lengths of every padding.
func TestConv1DReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct {
		t, k, stride, dil int
		padding           string
		ot                int
	}{
		{10, 3, 1, 1, "valid", 8}, {10, 3, 2, 1, "same", 5}, {10, 3, 1, 2, "causal", 10}, {10, 3, 3, 2, "causal", 4},
		{7, 4, 2, 1, "same", 4}, {9, 2, 2, 3, "valid", 3},
	} {
		l := NewConv1D(3, c.k)
		l.Strides, l.DilationRate, l.Padding = c.stride, c.dil, c.padding
		m := must(t)(NewSequential(tensor.Shape{c.t, 2}, l))
		for _, p := range m.Params() {
			for i := range p.Value.Data {
				p.Value.Data[i] = float32(r.NormFloat64())
			}
		}
		x := randTensor(r, 2, c.t, 2)
		out := noErr(m.Forward(nil, x))[0]
		if !out.Shape.Equal(tensor.Shape{2, c.ot, 3}) {
			t.Fatalf("%+v: output %v, want (2, %d, 3)", c, out.Shape, c.ot)
		}
		// The padding before the sequence: causal all of it, same half
		// (floor), valid none.
		span := (c.k-1)*c.dil + 1
		pad := map[string]int{"valid": 0, "causal": span - 1, "same": max((c.ot-1)*c.stride+span-c.t, 0) / 2}[c.padding]
		w, b := l.Kernel.Value.Data, l.Bias.Value.Data
		for n := 0; n < 2; n++ {
			for o := 0; o < c.ot; o++ {
				for f := 0; f < 3; f++ {
					s := float64(b[f])
					for k := 0; k < c.k; k++ {
						ti := o*c.stride - pad + k*c.dil
						if ti < 0 || ti >= c.t {
							continue
						}
						for ch := 0; ch < 2; ch++ {
							s += float64(x.Data[(n*c.t+ti)*2+ch]) * float64(w[(k*2+ch)*3+f])
						}
					}
					if got := out.Data[(n*c.ot+o)*3+f]; math.Abs(float64(got)-s) > 1e-5 {
						t.Fatalf("%+v: out[%d,%d,%d] = %v, want %v", c, n, o, f, got, s)
					}
				}
			}
		}
	}
	if _, err := NewSequential(tensor.Shape{4, 2}, NewConv1D(3, 5)); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("window longer than the sequence: %v", err)
	}
}

func TestPooling1D(t *testing.T) {
	gradCheck(t, NewMaxPooling1D(2), 2, true, 1e-3, 2e-2, tensor.Shape{7, 3})
	p := NewMaxPooling1D(3)
	p.Strides, p.Padding = 2, "same"
	gradCheck(t, p, 2, true, 1e-3, 2e-2, tensor.Shape{8, 3})
	gradCheck(t, NewGlobalAveragePooling1D(), 2, true, 1e-2, 2e-2, tensor.Shape{5, 3})

	x := noErr(tensor.FromSlice([]float32{1, -1, 3, 2, 2, 5, -4, 0, 0, 7}, 1, 5, 2))
	q := NewMaxPooling1D(2)
	m := must(t)(NewSequential(tensor.Shape{5, 2}, q))
	got := noErr(m.Forward(nil, x))[0]
	want := []float32{3, 2, 2, 5}
	if !got.Shape.Equal(tensor.Shape{1, 2, 2}) || !equalF32(got.Data, want) {
		t.Errorf("MaxPooling1D(2) = %v %v, want (1, 2, 2) %v", got.Shape, got.Data, want)
	}
	q = NewMaxPooling1D(2)
	q.Padding = "same"
	m = must(t)(NewSequential(tensor.Shape{5, 2}, q))
	got = noErr(m.Forward(nil, x))[0]
	want = []float32{3, 2, 2, 5, 0, 7}
	if !got.Shape.Equal(tensor.Shape{1, 3, 2}) || !equalF32(got.Data, want) {
		t.Errorf("MaxPooling1D(2, same) = %v %v, want (1, 3, 2) %v", got.Shape, got.Data, want)
	}
	m = must(t)(NewSequential(tensor.Shape{5, 2}, NewGlobalAveragePooling1D()))
	got = noErr(m.Forward(nil, x))[0]
	want = []float32{0.4, 2.6}
	if math.Abs(float64(got.Data[0]-want[0])) > 1e-6 || math.Abs(float64(got.Data[1]-want[1])) > 1e-6 {
		t.Errorf("GlobalAveragePooling1D = %v, want %v", got.Data, want)
	}
}

// equalF32 reports whether a and b hold the same values.
func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// closeF32 reports whether a and b hold the same number of values, each
// within tol.
func closeF32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

func TestEmbedding(t *testing.T) {
	for _, maskZero := range []bool{false, true} {
		e := NewEmbedding(5, 3)
		e.MaskZero = maskZero
		m := must(t)(NewSequential(tensor.Shape{4}, e))
		x := noErr(tensor.FromSlice([]float32{0, 4, 2, 2, 1, 5, -1, 2.5}, 2, 4))
		out := noErr(m.Forward(nil, x))[0]
		if !out.Shape.Equal(tensor.Shape{2, 4, 3}) {
			t.Fatalf("output shape %v", out.Shape)
		}
		w := e.Embeddings.Value.Data
		for p, v := range x.Data {
			row := -1
			if i := int(v); float32(i) == v && i >= 0 && i < 5 && !(maskZero && i == 0) {
				row = i
			}
			for j := 0; j < 3; j++ {
				want := float32(0)
				if row >= 0 {
					want = w[row*3+j]
				}
				if got := out.Data[p*3+j]; got != want {
					t.Fatalf("mask_zero %v: index %v: out %v, want %v", maskZero, v, got, want)
				}
			}
		}
		// The table's gradient: each position's gradient added to its row.
		dOut := randTensor(rand.New(rand.NewPCG(1, 1)), 2, 4, 3)
		if err := m.Backward(nil, dOut); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 15)
		for p, v := range x.Data {
			if i := int(v); float32(i) == v && i >= 0 && i < 5 && !(maskZero && i == 0) {
				for j := 0; j < 3; j++ {
					want[i*3+j] += dOut.Data[p*3+j]
				}
			}
		}
		for i, g := range e.Embeddings.Grad.Data {
			if math.Abs(float64(g-want[i])) > 1e-6 {
				t.Fatalf("mask_zero %v: grad[%d] = %v, want %v", maskZero, i, g, want[i])
			}
		}
		for _, v := range e.Embeddings.Value.Data {
			if v < -0.05 || v > 0.05 {
				t.Fatalf("initial value %v outside [-0.05, 0.05]", v)
			}
		}
	}
}

// TestEmbeddingMasking checks that Embedding(MaskZero) -> LSTM(Masking)
// ignores padding: a sequence padded with index 0 at the end gives the
// output of the unpadded sequence, and inside a Bidirectional with
// ReturnSequences the padding steps output zeros.
func TestEmbeddingMasking(t *testing.T) {
	build := func(steps int, bidi bool) *Model {
		e := NewEmbedding(10, 4)
		e.MaskZero = true
		var l Layer = &LSTM{RecurrentOptions: RecurrentOptions{Units: 3, UseBias: true, Masking: true, ReturnSequences: bidi}}
		if bidi {
			l = noErr(NewBidirectional(l))
		}
		m := must(t)(NewSequential(tensor.Shape{steps}, e, l))
		m.InitWeights(9)
		return m
	}
	short, long := build(3, false), build(5, false)
	xs := noErr(tensor.FromSlice([]float32{3, 1, 7}, 1, 3))
	xl := noErr(tensor.FromSlice([]float32{3, 1, 7, 0, 0}, 1, 5))
	a := noErr(short.Forward(nil, xs))[0].Clone()
	b := noErr(long.Forward(nil, xl))[0]
	// Equal within float rounding: the GEMMs of 3 and of 5 steps may use
	// different kernels (a row kernel below a tile's rows).
	if !closeF32(a.Data, b.Data, 1e-6) {
		t.Errorf("padded output %v, unpadded %v", b.Data, a.Data)
	}
	// Without masking the padding changes the result.
	long2 := must(t)(NewSequential(tensor.Shape{5}, func() Layer {
		e := NewEmbedding(10, 4)
		e.MaskZero = true
		return e
	}(), NewLSTM(3)))
	long2.InitWeights(9)
	if c := noErr(long2.Forward(nil, xl))[0]; equalF32(c.Data, a.Data) {
		t.Errorf("without Masking the padding had no effect")
	}

	bs, bl := build(3, true), build(5, true)
	a = noErr(bs.Forward(nil, xs))[0].Clone()
	b = noErr(bl.Forward(nil, xl))[0]
	if !closeF32(b.Data[:3*6], a.Data, 1e-6) {
		t.Errorf("bidirectional padded steps %v, unpadded %v", b.Data[:18], a.Data)
	}
	for i, v := range b.Data[3*6:] {
		if v != 0 {
			t.Fatalf("bidirectional padding step output %d = %v, want 0", i, v)
		}
	}
}

// TestRecurrentMaskedGradients checks the gradients of masked recurrent
// layers against finite differences, perturbing only the steps that are
// not padding (a perturbed zero step would stop being padding).
func TestRecurrentMaskedGradients(t *testing.T) {
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, seq := range []bool{false, true} {
			o := RecurrentOptions{Units: 3, UseBias: true, ReturnSequences: seq, Masking: true, GoBackwards: seq}
			l := newRecurrent(typ, o)
			checkMaskedGrad(t, l, [][2]int{{0, 4}, {1, 1}, {1, 2}})
			b := noErr(NewBidirectional(newRecurrent(typ, o)))
			checkMaskedGrad(t, b, [][2]int{{0, 4}, {1, 0}})
		}
	}
}

// checkMaskedGrad is gradCheck for a layer on (2, 5, 3) inputs whose given
// (sample, step) rows are zero (padding) and stay so.
func checkMaskedGrad(t *testing.T, l Layer, pads [][2]int) {
	t.Helper()
	const T, F = 5, 3
	outShape := noErr(l.Build([]tensor.Shape{{T, F}}))
	r := rand.New(rand.NewPCG(4, 4))
	l.(Initializer).InitWeights(r)
	x := randTensor(r, 2, T, F)
	padded := map[int]bool{}
	for _, p := range pads {
		clear(x.Data[(p[0]*T+p[1])*F : (p[0]*T+p[1]+1)*F])
		for j := 0; j < F; j++ {
			padded[(p[0]*T+p[1])*F+j] = true
		}
	}
	R := randTensor(r, append([]int{2}, outShape...)...)
	loss := func() float64 {
		out := l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
		var s float64
		for i, v := range out.Data {
			s += float64(v) * float64(R.Data[i])
		}
		return s
	}
	loss()
	dx := append([]float32(nil), l.Backward(&Context{Training: true}, R)[0].Data...)
	type target struct {
		name      string
		vals, ana []float32
	}
	targets := []target{{"input", x.Data, dx}}
	for _, p := range l.Params() {
		targets = append(targets, target{p.Name, p.Value.Data, append([]float32(nil), p.Grad.Data...)})
	}
	const eps = 1e-2
	for _, tg := range targets {
		step := max(1, len(tg.vals)/40)
		for j := 0; j < len(tg.vals); j += step {
			if tg.name == "input" && padded[j] {
				if tg.ana[j] != 0 {
					t.Errorf("%s: padding input %d has gradient %v, want 0", l.Type(), j, tg.ana[j])
				}
				continue
			}
			orig := tg.vals[j]
			tg.vals[j] = orig + eps
			lp := loss()
			tg.vals[j] = orig - eps
			lm := loss()
			tg.vals[j] = orig
			num := (lp - lm) / (2 * eps)
			if d := math.Abs(num - float64(tg.ana[j])); d > 2e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("%s %s[%d]: analytic %.6g, numeric %.6g", l.Type(), tg.name, j, tg.ana[j], num)
			}
		}
	}
}

func TestBidirectional(t *testing.T) {
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, seq := range []bool{false, true} {
			o := RecurrentOptions{Units: 3, UseBias: true, ReturnSequences: seq}
			b := noErr(NewBidirectional(newRecurrent(typ, o)))
			gradCheck(t, b, 2, true, 1e-2, 2e-2, tensor.Shape{4, 3})
		}
	}
	// The output is the forward layer's, then the backward layer's put
	// back in input order.
	r := rand.New(rand.NewPCG(6, 6))
	o := RecurrentOptions{Units: 2, UseBias: true, ReturnSequences: true}
	b := noErr(NewBidirectional(&GRU{RecurrentOptions: o}))
	m := must(t)(NewSequential(tensor.Shape{4, 3}, b))
	x := randTensor(r, 2, 4, 3)
	got := noErr(m.Forward(nil, x))[0]
	if !got.Shape.Equal(tensor.Shape{2, 4, 4}) {
		t.Fatalf("shape %v", got.Shape)
	}
	fw := refRecurrent("GRU", o, b.ForwardLayer.Params(), x)
	bo := o
	bo.GoBackwards = true
	bw := refRecurrent("GRU", bo, b.BackwardLayer.Params(), x)
	for n := 0; n < 2; n++ {
		for s := 0; s < 4; s++ {
			for j := 0; j < 2; j++ {
				f, k := got.Data[((n*4+s)*2+0)*2+j], got.Data[((n*4+s)*2+1)*2+j]
				if math.Abs(float64(f)-fw[(n*4+s)*2+j]) > 1e-5 || math.Abs(float64(k)-bw[(n*4+3-s)*2+j]) > 1e-5 {
					t.Fatalf("step %d: got %v %v, want %v %v", s, f, k, fw[(n*4+s)*2+j], bw[(n*4+3-s)*2+j])
				}
			}
		}
	}
	if _, err := NewBidirectional(NewDense(3)); err == nil {
		t.Error("Bidirectional(Dense) accepted")
	}
}

// TestRecurrentShapes checks the output shapes of ReturnSequences and
// GoBackwards, and that GoBackwards reverses the returned sequence.
func TestRecurrentShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	x := randTensor(r, 3, 6, 2)
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		for _, o := range recurrentVariants() {
			m := must(t)(NewSequential(tensor.Shape{6, 2}, newRecurrent(typ, o)))
			out := noErr(m.Forward(nil, x))[0]
			want := tensor.Shape{3, o.Units}
			if o.ReturnSequences {
				want = tensor.Shape{3, 6, o.Units}
			}
			if !out.Shape.Equal(want) {
				t.Errorf("%s %+v: shape %v, want %v", typ, o, out.Shape, want)
			}
		}
		// go_backwards on x equals forwards on x reversed in time.
		o := RecurrentOptions{Units: 4, UseBias: true, ReturnSequences: true}
		f := newRecurrent(typ, o)
		ob := o
		ob.GoBackwards = true
		b := newRecurrent(typ, ob)
		mf := must(t)(NewSequential(tensor.Shape{6, 2}, f))
		mb := must(t)(NewSequential(tensor.Shape{6, 2}, b))
		mf.InitWeights(3)
		mb.InitWeights(3)
		rev := x.Clone()
		for n := 0; n < 3; n++ {
			for s := 0; s < 6; s++ {
				copy(rev.Data[(n*6+s)*2:(n*6+s+1)*2], x.Data[(n*6+5-s)*2:(n*6+6-s)*2])
			}
		}
		a := noErr(mf.Forward(nil, rev))[0].Clone()
		c := noErr(mb.Forward(nil, x))[0]
		if !closeF32(a.Data, c.Data, 1e-6) { // rows in other GEMM tiles: float rounding
			t.Errorf("%s: go_backwards differs from the reversed input", typ)
		}
	}
}

// TestRecurrentInit checks Keras's initialisation: orthogonal recurrent
// kernels (orthonormal rows for (U, G*U)), the forget gate's bias 1 and
// Glorot uniform kernels.
func TestRecurrentInit(t *testing.T) {
	for _, typ := range []string{"LSTM", "GRU", "SimpleRNN"} {
		l := newRecurrent(typ, RecurrentOptions{Units: 6, UseBias: true})
		m := must(t)(NewSequential(tensor.Shape{3, 5}, l))
		m.InitWeights(1)
		ps := l.Params()
		w, ur, b := ps[0].Value, ps[1].Value, ps[2].Value
		u, gu := 6, ur.Shape[1]
		for i := 0; i < u; i++ {
			for j := 0; j < u; j++ {
				var d float64
				for k := 0; k < gu; k++ {
					d += float64(ur.Data[i*gu+k]) * float64(ur.Data[j*gu+k])
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(d-want) > 1e-5 {
					t.Fatalf("%s: recurrent rows %d.%d = %v, want %v", typ, i, j, d, want)
				}
			}
		}
		limit := math.Sqrt(6 / float64(5+gu))
		for _, v := range w.Data {
			if math.Abs(float64(v)) > limit {
				t.Fatalf("%s: kernel value %v beyond the Glorot limit %v", typ, v, limit)
			}
		}
		for j, v := range b.Data {
			want := float32(0)
			if typ == "LSTM" && j >= u && j < 2*u {
				want = 1
			}
			if v != want {
				t.Fatalf("%s: bias[%d] = %v, want %v", typ, j, v, want)
			}
		}
	}
}

// TestSequenceErrors checks that bad shapes and configurations are one
// clear error.
func TestSequenceErrors(t *testing.T) {
	for _, c := range []struct {
		in   tensor.Shape
		l    Layer
		want string
	}{
		{tensor.Shape{5}, NewLSTM(3), "must be rank 2"},
		{tensor.Shape{5, 2, 1}, NewGRU(3), "must be rank 2"},
		{tensor.Shape{5, 2}, NewSimpleRNN(0), "units must be positive"},
		{tensor.Shape{5, 2}, NewConv1D(0, 3), "must be positive"},
		{tensor.Shape{5, 2}, &Conv1D{Filters: 2, KernelSize: 2, Strides: 1, DilationRate: 1, Padding: "full"}, "padding"},
		{tensor.Shape{5, 2}, NewMaxPooling1D(6), "does not fit"},
		{tensor.Shape{5, 2}, NewEmbedding(0, 3), "must be positive"},
		{tensor.Shape{5}, NewGlobalAveragePooling1D(), "must be rank 2"},
	} {
		if _, err := NewSequential(c.in, c.l); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %v: error %v, want one containing %q", c.l.Type(), c.in, err, c.want)
		}
	}
	for typ, cfg := range map[string]string{
		"LSTM":          `{"units": -1}`,
		"GRU":           `{"units": 3, "activation": "relu"}`,
		"Conv1D":        `{"filters": 2, "kernel_size": 3, "padding": "full"}`,
		"MaxPooling1D":  `{"pool_size": 0}`,
		"Embedding":     `{"input_dim": 100000, "output_dim": 100000}`,
		"Bidirectional": `{"layer": {"class_name": "Dense", "config": {"units": 3}}, "merge_mode": "concat"}`,
	} {
		if _, err := NewLayer(typ, "x", []byte(cfg)); err == nil {
			t.Errorf("%s %s: no error", typ, cfg)
		}
	}
	if _, err := NewLayer("Bidirectional", "x", []byte(`{"layer": {"class_name": "LSTM", "config": {"units": 3}}, "merge_mode": "sum"}`)); err == nil ||
		!strings.Contains(err.Error(), "concat") {
		t.Errorf("merge_mode sum: %v", err)
	}
}

// noErr returns v, panicking (failing the test) on an error that the test
// does not expect.
func noErr[V any](v V, err error) V {
	if err != nil {
		panic(err)
	}
	return v
}

// everySequenceLayerModel builds a Functional model using every sequence
// layer type (Embedding, Conv1D, MaxPooling1D, GlobalAveragePooling1D,
// LSTM, GRU, SimpleRNN, Bidirectional) on 8 indices per sample, with every
// weight moved off its initial value. save_test.go round-trips it.
func everySequenceLayerModel(t *testing.T) *Model {
	t.Helper()
	x := Input(8)
	emb := NewEmbedding(20, 6)
	emb.MaskZero = true
	e := Call(emb, x)
	lstm := NewLSTM(4)
	lstm.ReturnSequences, lstm.Masking = true, true
	a := Call(noErr(NewBidirectional(lstm)), e)
	gru := NewGRU(5)
	gru.GoBackwards = true
	b := Call(gru, a)
	conv := NewConv1D(6, 3)
	conv.Padding, conv.DilationRate = "causal", 2
	p := Call(NewMaxPooling1D(2), Call(conv, e))
	rnn := NewSimpleRNN(3)
	rnn.ReturnSequences = true
	g := Call(NewGlobalAveragePooling1D(), Call(rnn, p))
	c := Call(NewLSTM(2), p)
	o := Call(NewDense(4), Call(NewConcatenate(), b, g, c))
	m := must(t)(NewModel([]*Node{x}, []*Node{o}))
	r := rand.New(rand.NewPCG(13, 13))
	for _, prm := range m.Params() {
		for i := range prm.Value.Data {
			prm.Value.Data[i] += float32(r.NormFloat64() * 0.1)
		}
	}
	return m
}

// randIndices returns n samples of steps indices in [0, dim).
func randIndices(r *rand.Rand, n, steps, dim int) *tensor.Tensor {
	x := tensor.New(n, steps)
	for i := range x.Data {
		x.Data[i] = float32(r.IntN(dim))
	}
	return x
}

// TestSequenceModelTrains checks Summary's rows for the sequence layers
// and that the model of everySequenceLayerModel learns a small task (the
// label is the first index mod 4): its training loss falls, bit-identical
// for 1 and 2 threads.
func TestSequenceModelTrains(t *testing.T) {
	s := everySequenceLayerModel(t).Summary()
	// Bidirectional LSTM(4) on 6 features: 2 x (6*16 + 4*16 + 16) = 352;
	// GRU(5) on 8: 8*15 + 5*15 + 2*15 = 225.
	for _, want := range []string{"embedding (Embedding)", "(None, 8, 6)", "bidirectional (Bidirectional)", "(None, 8, 8)", "352",
		"gru (GRU)", "(None, 5)", "225", "conv1d (Conv1D)", "max_pooling1d (MaxPooling1D)", "simple_rnn (SimpleRNN)", "lstm (LSTM)",
		"global_average_pooling1d (GlobalAveragePooling1D)"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary lacks %q:\n%s", want, s)
		}
	}
	r := rand.New(rand.NewPCG(14, 14))
	x := randIndices(r, 64, 8, 20)
	y := tensor.New(64)
	for i := range y.Data {
		y.Data[i] = float32(int(x.Data[i*8]) % 4)
	}
	var losses [2][]float64
	for k, th := range []int{1, 2} {
		func() {
			defer kernels.SetThreads(kernels.Threads())
			kernels.SetThreads(th)
			m := everySequenceLayerModel(t)
			if err := m.Compile(CompileOptions{Loss: SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: testSGD{0.5}}); err != nil {
				t.Fatal(err)
			}
			h, err := m.Fit(context.Background(), x, y, FitOptions{BatchSize: 16, Epochs: 15, Seed: 3, Verbose: VerboseSilent})
			if err != nil {
				t.Fatal(err)
			}
			losses[k] = h.Loss
		}()
	}
	l := losses[0]
	if !(l[len(l)-1] < 0.8*l[0]) {
		t.Errorf("training loss %v did not fall", l)
	}
	for i := range l {
		if math.Float64bits(l[i]) != math.Float64bits(losses[1][i]) {
			t.Fatalf("epoch %d loss %v with 1 thread, %v with 2", i, l[i], losses[1][i])
		}
	}
}

// TestEmbeddingFiniteDifferences checks the table's gradient against
// central finite differences of L = sum(out * R) (the indices, which get
// no gradient, are not perturbed).
func TestEmbeddingFiniteDifferences(t *testing.T) {
	e := NewEmbedding(6, 3)
	e.MaskZero = true
	noErr(e.Build([]tensor.Shape{{5}}))
	r := rand.New(rand.NewPCG(8, 8))
	e.InitWeights(r)
	x := randIndices(r, 3, 5, 6)
	R := randTensor(r, 3, 5, 3)
	loss := func() float64 {
		var s float64
		for i, v := range e.Forward(nil, []*tensor.Tensor{x}).Data {
			s += float64(v) * float64(R.Data[i])
		}
		return s
	}
	loss()
	dx := e.Backward(nil, R)[0]
	for _, v := range dx.Data {
		if v != 0 {
			t.Fatalf("index gradient %v, want 0", v)
		}
	}
	ana := append([]float32(nil), e.Embeddings.Grad.Data...)
	w := e.Embeddings.Value.Data
	const eps = 1e-2
	for j := range w {
		orig := w[j]
		w[j] = orig + eps
		lp := loss()
		w[j] = orig - eps
		lm := loss()
		w[j] = orig
		if num := (lp - lm) / (2 * eps); math.Abs(num-float64(ana[j])) > 1e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("embeddings[%d]: analytic %v, numeric %v", j, ana[j], num)
		}
	}
}
