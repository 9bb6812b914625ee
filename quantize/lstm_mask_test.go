package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// maskedVariants returns LSTM, SimpleRNN and GRU configurations with
// Masking: last output, sequences, backwards.
func maskedVariants() []rnnVariant {
	var vs []rnnVariant
	for _, kind := range []string{"lstm", "rnn", "gru"} {
		for _, o := range []nn.RecurrentOptions{
			{Units: 5, UseBias: true, Masking: true},
			{Units: 3, UseBias: true, ReturnSequences: true, GoBackwards: true, Masking: true},
			{Units: 4, ReturnSequences: true, Masking: true},
		} {
			vs = append(vs, rnnVariant{o, kind})
		}
	}
	return vs
}

// padSteps zeroes steps of x (N, T, F): sample 0 its first step, sample 1
// its last two, every sample from the third on one inner step, and the
// last sample (of at least four) all of them.
func padSteps(x *tensor.Tensor) {
	n, t, f := x.Shape[0], x.Shape[1], x.Shape[2]
	zero := func(i, s int) { clear(x.Data[(i*t+s)*f : (i*t+s+1)*f]) }
	for i := 0; i < n; i++ {
		switch {
		case i == 0:
			zero(i, 0)
		case i == 1:
			zero(i, t-1)
			zero(i, t-2)
		case i == n-1 && n >= 4:
			for s := 0; s < t; s++ {
				zero(i, s)
			}
		default:
			zero(i, 1+i%(t-2))
		}
	}
}

// isPad reports whether step s of sample i of x (N, T, F) is all zeros.
func isPad(x *tensor.Tensor, i, s int) bool {
	t, f := x.Shape[1], x.Shape[2]
	for _, v := range x.Data[(i*t+s)*f : (i*t+s+1)*f] {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestQuantizeLSTMMaskingFloat checks the masked layers with their fake
// quant off: forward and backward equal nn's masked LSTM (GRU, SimpleRNN),
// and the gradients match finite differences for every weight and for
// the input of the steps that are not padding (a padding step's input
// gets zero gradient; moving it off zero would make it a real step).
func TestQuantizeLSTMMaskingFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 60))
	for k, v := range maskedVariants() {
		l, f := newTestLSTM(t, r, v.o, 5, 3, v.kind)
		l.float = true
		x := randTensor(r, 4, 5, 3)
		padSteps(x)
		train := func() *nn.Context { return &nn.Context{Training: true} }
		got := l.Forward(train(), []*tensor.Tensor{x}).Clone()
		want := f.Forward(train(), []*tensor.Tensor{x})
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
		for i, p := range f.Params() {
			for j, g := range l.inner.Params()[i].Grad.Data {
				if d := math.Abs(float64(g - p.Grad.Data[j])); d > 1e-4*max(1, math.Abs(float64(p.Grad.Data[j]))) {
					t.Fatalf("variant %d: %s gradient %d = %v, nn %v", k, p.Name, j, g, p.Grad.Data[j])
				}
			}
		}
		maskedGradCheck(t, l, train, 1e-2, 2e-2, x, r)
	}
}

// maskedGradCheck is gradCheck for a layer with Masking: the input values
// of padding steps are left out of the finite differences and must get a
// zero gradient.
func maskedGradCheck(t *testing.T, layer nn.Layer, ctx func() *nn.Context, eps, tol float64, x *tensor.Tensor, r *rand.Rand) {
	t.Helper()
	out := layer.Forward(ctx(), []*tensor.Tensor{x})
	R := tensor.New(out.Shape...)
	for j := range R.Data {
		R.Data[j] = float32(r.NormFloat64())
	}
	loss := func() float64 {
		out := layer.Forward(ctx(), []*tensor.Tensor{x})
		var s float64
		for j, v := range out.Data {
			s += float64(v) * float64(R.Data[j])
		}
		return s
	}
	loss()
	dIn := layer.Backward(ctx(), R)[0].Clone()
	n, steps, f := x.Shape[0], x.Shape[1], x.Shape[2]
	skip := make([]bool, len(x.Data))
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			if !isPad(x, i, s) {
				continue
			}
			for j := (i*steps + s) * f; j < (i*steps+s+1)*f; j++ {
				skip[j] = true
				if dIn.Data[j] != 0 {
					t.Fatalf("%s: padding input %d has gradient %v", layer.Type(), j, dIn.Data[j])
				}
			}
		}
	}
	type target struct {
		name      string
		vals, ana []float32
		skip      []bool
	}
	targets := []target{{"input", x.Data, dIn.Data, skip}}
	for _, p := range layer.Params() {
		if p.Trainable {
			targets = append(targets, target{p.Name, p.Value.Data, append([]float32(nil), p.Grad.Data...), nil})
		}
	}
	for _, tg := range targets {
		step := max(1, len(tg.vals)/40)
		for j := 0; j < len(tg.vals); j += step {
			if tg.skip != nil && tg.skip[j] {
				continue
			}
			orig := tg.vals[j]
			tg.vals[j] = orig + float32(eps)
			lp := loss()
			tg.vals[j] = orig - float32(eps)
			lm := loss()
			tg.vals[j] = orig
			num := (lp - lm) / (2 * eps)
			if d := math.Abs(num - float64(tg.ana[j])); d > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s %s[%d]: analytic %.6g, numeric %.6g", layer.Type(), tg.name, j, tg.ana[j], num)
			}
		}
	}
}

// TestQuantizeLSTMMaskingStraightThrough is TestQuantizeLSTMStraightThrough
// with Masking and padded inputs: the quantized output near nn's masked
// output, the straight-through gradients pointing where nn's do, and no
// gradient on the padding steps' inputs.
func TestQuantizeLSTMMaskingStraightThrough(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 61))
	for k, v := range maskedVariants() {
		l, f := newTestLSTM(t, r, v.o, 6, 5, v.kind)
		x := randTensor(r, 16, 6, 5)
		padSteps(x)
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
		for i := 0; i < 16; i++ {
			for st := 0; st < 6; st++ {
				if !isPad(x, i, st) {
					continue
				}
				for _, g := range dx.Data[(i*6+st)*5 : (i*6+st+1)*5] {
					if g != 0 {
						t.Fatalf("variant %d: sample %d padding step %d has input gradient %v", k, i, st, g)
					}
				}
			}
		}
		for i, p := range f.Params() {
			if c := cosine(l.inner.Params()[i].Grad.Data, p.Grad.Data); c < 0.9 {
				t.Errorf("variant %d: %s gradient cosine %.3f", k, p.Name, c)
			}
		}
	}
}

// TestQuantizeLSTMMaskingExact checks the masked layers' exact inference
// (the integer op on the input's codes, a step padding when its codes are
// the zero point) against the float simulation of the training pass on
// padded inputs: the codes agree as without masking (at least 98% equal,
// all within 2), and a padding step's outputs are the previous step's
// exactly (zero before the first real step) in both.
func TestQuantizeLSTMMaskingExact(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 62))
	for k, v := range maskedVariants() {
		const steps, feats = 7, 5
		qm, _ := lstmQATModel(t, r, v.o, steps, feats, v.kind)
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
			t.Fatalf("variant %d: no linked QuantizeLSTM", k)
		}
		x := randTensor(r, 16, steps, feats)
		padSteps(x)
		in := qm.Layers()[0].(*QuantizeInput)
		xq := in.Forward(&nn.Context{}, []*tensor.Tensor{x}).Clone()
		for i := 0; i < 16; i++ {
			for s := 0; s < steps; s++ {
				if isPad(x, i, s) != isPad(xq, i, s) {
					t.Fatalf("variant %d: sample %d step %d: padding %v before the input's fake quant, %v after", k, i, s, isPad(x, i, s), isPad(xq, i, s))
				}
			}
		}
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
		if !v.o.ReturnSequences {
			// The all-padding sample's output is the zero state.
			u := v.o.Units
			for _, y := range []*tensor.Tensor{exact, sim} {
				for _, o := range y.Data[15*u : 16*u] {
					if o != 0 {
						t.Fatalf("variant %d: the all-padding sample outputs %v", k, y.Data[15*u:16*u])
					}
				}
			}
			continue
		}
		u := v.o.Units
		for _, y := range []*tensor.Tensor{exact, sim} {
			for i := 0; i < 16; i++ {
				for s := 0; s < steps; s++ {
					ti := s
					if v.o.GoBackwards {
						ti = steps - 1 - s
					}
					if !isPad(x, i, ti) {
						continue
					}
					row := y.Data[(i*steps+s)*u : (i*steps+s+1)*u]
					for j, o := range row {
						prev := float32(0)
						if s > 0 {
							prev = y.Data[(i*steps+s-1)*u+j]
						}
						if o != prev {
							t.Fatalf("variant %d: sample %d step %d (padding) outputs %v, previous %v", k, i, s, o, prev)
						}
					}
				}
			}
		}
	}
}

// TestQuantizeLSTMMaskingRanges checks that padding adds nothing to the
// ranges: a training batch and the same batch with an all-padding sample
// appended leave the output quantizer (LSQ, whose first step size comes
// from the values' statistics) and the cell's range bit for bit the same.
func TestQuantizeLSTMMaskingRanges(t *testing.T) {
	for _, kind := range []string{"lstm", "gru", "rnn"} {
		o := nn.RecurrentOptions{Units: 4, UseBias: true, ReturnSequences: true, Masking: true}
		x := randTensor(rand.New(rand.NewPCG(19, 63)), 5, 6, 3)
		padSteps(x) // samples 0 to 3 with padding steps, sample 4 all padding
		real := &tensor.Tensor{Shape: tensor.Shape{4, 6, 3}, Data: x.Data[:4*6*3]}
		var states [2][]float32
		for k, in := range []*tensor.Tensor{real, x} {
			l, _ := newTestLSTM(t, rand.New(rand.NewPCG(19, 64)), o, 6, 3, kind)
			lsq := NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true, LSQ: true}.Activation()
			q, err := lsq.New()
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Build("output_quant", tensor.Shape{4}); err != nil {
				t.Fatal(err)
			}
			l.oq = q
			l.Forward(&nn.Context{Training: true}, []*tensor.Tensor{in})
			states[k] = append(states[k], l.cellMax.Value.Data...)
			for _, p := range q.Params() {
				states[k] = append(states[k], p.Value.Data...)
			}
		}
		if len(states[0]) < 2 {
			t.Fatalf("%s: no quantizer state", kind)
		}
		for i := range states[0] {
			if math.Float32bits(states[0][i]) != math.Float32bits(states[1][i]) {
				t.Errorf("%s: state %d is %v, with an all-padding sample %v", kind, i, states[0][i], states[1][i])
			}
		}
	}
}
