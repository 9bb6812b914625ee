package quantize

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// TestGroupSize checks per-axis quantization with channel groups on a
// kernel (F, 4U) on axis 1, groups of U: LastValue's scale of a group is
// its max |w| / 127, LSQ's initial step 2 mean|w| / sqrt(127) over the
// group; Scales repeats it for each of the group's channels; the fake
// quant uses it on every value of the group; LSQ's gradient scale counts
// the group's values. Bad group sizes are one-line errors.
func TestGroupSize(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const f, u = 3, 5
	x := randTensor(r, f, 4*u)
	for k := 0; k < 4; k++ { // gates of different ranges
		for i := 0; i < f; i++ {
			for j := 0; j < u; j++ {
				x.Data[i*4*u+k*u+j] *= float32(k + 1)
			}
		}
	}
	for _, kind := range []string{KindLastValue, KindLSQ} {
		sp := Spec{Kind: kind, Bits: 8, Narrow: true, Symmetric: true, PerAxis: true, Axis: 1, GroupSize: u}
		q, err := sp.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Build("kernel_quant", x.Shape); err != nil {
			t.Fatal(err)
		}
		for _, p := range q.Params() {
			if p.Name != "kernel_quant_init" && p.Value.Shape.Size() != 4 {
				t.Errorf("%s: %s has %d values, want 4 (one per group)", kind, p.Name, p.Value.Shape.Size())
			}
		}
		y := tensor.New(x.Shape...)
		q.Forward(&nn.Context{Training: true}, x, y)
		sc, zp := q.Scales()
		if len(sc) != 4*u || len(zp) != 4*u {
			t.Fatalf("%s: %d scales, %d zero points, want %d", kind, len(sc), len(zp), 4*u)
		}
		for g := 0; g < 4; g++ {
			var m, sum float64
			for i := 0; i < f; i++ {
				for _, v := range x.Data[i*4*u+g*u : i*4*u+(g+1)*u] {
					m = max(m, math.Abs(float64(v)))
					sum += math.Abs(float64(v))
				}
			}
			want := float32(m / 127)
			if kind == KindLSQ {
				want = float32(2 * sum / (f * u) / math.Sqrt(127))
			}
			for j := g * u; j < (g+1)*u; j++ {
				if math.Abs(float64(sc[j]-want)) > 1e-6*float64(want) || zp[j] != 0 {
					t.Fatalf("%s: channel %d (gate %d): scale %v zero point %d, want %v, 0", kind, j, g, sc[j], zp[j], want)
				}
			}
		}
		want := tensor.New(x.Shape...)
		FakeQuantPerAxis(x.Data, want.Data, x.Shape, 1, sc, zp, 8, true)
		for i := range want.Data {
			if y.Data[i] != want.Data[i] {
				t.Fatalf("%s: value %d: %v, want %v (the group's scale)", kind, i, y.Data[i], want.Data[i])
			}
		}
		if l, ok := q.(*LSQ); ok {
			if got, want := l.GradScale(0), 1/math.Sqrt(f*u*127); math.Abs(got-want) > 1e-12 {
				t.Errorf("LSQ gradient scale %v, want %v (f*u values per group)", got, want)
			}
		}
	}
	for name, sp := range map[string]Spec{
		"negative":      {Kind: KindLastValue, Bits: 8, Symmetric: true, PerAxis: true, Axis: 1, GroupSize: -1},
		"per tensor":    {Kind: KindLastValue, Bits: 8, Symmetric: true, GroupSize: u},
		"not dividing":  {Kind: KindLastValue, Bits: 8, Symmetric: true, PerAxis: true, Axis: 1, GroupSize: 3},
		"lsq, too big":  {Kind: KindLSQ, Bits: 8, Symmetric: true, PerAxis: true, Axis: 1, GroupSize: 8 * u},
		"bad axis, too": {Kind: KindLastValue, Bits: 8, Symmetric: true, PerAxis: true, Axis: 2, GroupSize: u},
	} {
		q, err := sp.New()
		if err == nil {
			err = q.Build("kernel_quant", x.Shape)
		}
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// perGateModel returns a QAT model Input (T, F) -> recurrent layer ->
// Dense(3) made by Model under scheme s, its ranges set by a few training
// passes, its recurrent layer and the input.
func perGateModel(t *testing.T, r *rand.Rand, o nn.RecurrentOptions, kind string, s NBit) (*nn.Model, *QuantizeLSTM, *tensor.Tensor) {
	t.Helper()
	const steps, feats = 6, 5
	var rl nn.Layer = &nn.LSTM{RecurrentOptions: o}
	switch kind {
	case "rnn":
		rl = &nn.SimpleRNN{RecurrentOptions: o}
	case "gru":
		rl = &nn.GRU{RecurrentOptions: o}
	}
	m, err := nn.NewSequential(tensor.Shape{steps, feats}, rl, nn.NewDense(3))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(r.Uint64())
	qm, err := Model(m, WithScheme(s))
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(r, 16, steps, feats)
	for i := 0; i < 3; i++ {
		if _, err := qm.Forward(&nn.Context{Training: true}, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, ly := range qm.Layers() {
		switch q := ly.(type) {
		case *QuantizeLSTM:
			return qm, q, x
		case *QuantizeSimpleRNN:
			return qm, &q.QuantizeLSTM, x
		case *QuantizeGRU:
			return qm, &q.QuantizeLSTM, x
		}
	}
	t.Fatalf("no recurrent layer in %v", qm.Layers())
	return nil, nil, nil
}

// TestQuantizeLSTMPerGate checks NBit.PerGate on the LSTM, GRU and
// SimpleRNN (8-bit and W4A8 with LSQ): the integer op has one weight scale
// per gate matrix (the LSTM's accepted by lite.TFLiteLSTMScales, which
// refuses the default per-column scales), every weight code is the
// rounded weight over its gate's scale, the exact inference agrees with
// the fake-quant simulation as per channel, and the configuration
// survives a save/load with identical outputs.
func TestQuantizeLSTMPerGate(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 14))
	o := nn.RecurrentOptions{Units: 6, UseBias: true}
	for _, s := range []NBit{{WeightBits: 8, ActivationBits: 8, PerAxis: true, PerGate: true},
		{WeightBits: 4, ActivationBits: 8, LSQ: true, PerGate: true}} {
		for _, kind := range []string{"lstm", "gru", "rnn"} {
			qm, l, x := perGateModel(t, r, o, kind, s)
			if l.Cfg.Kernel.GroupSize != o.Units || l.Cfg.Recurrent.GroupSize != o.Units || !l.Cfg.Kernel.PerAxis {
				t.Fatalf("%s %s: kernel specs %+v, %+v", s, kind, l.Cfg.Kernel, l.Cfg.Recurrent)
			}
			op, err := l.IntegerOp(0.01, 0)
			if err != nil {
				t.Fatal(err)
			}
			gu := op.WeightShape[1]
			for b := 0; b < 2*gu/o.Units; b++ {
				blk := op.WeightScales[b*o.Units : (b+1)*o.Units]
				for _, v := range blk {
					if v != blk[0] {
						t.Fatalf("%s %s: gate matrix %d has scales %v", s, kind, b, blk)
					}
				}
			}
			qmin, qmax := qmath.QRange(s.WeightBits, true)
			f := op.WeightShape[0] - o.Units
			for i, w := range append(append([]float32(nil), l.kernel.Value.Data...), l.rec.Value.Data...) {
				k := 0
				if i >= f*gu {
					k = 1
				}
				want := int8(qmath.QuantizeValue(w, op.WeightScales[k*gu+i%gu], 0, qmin, qmax))
				if op.Weights[i] != want {
					t.Fatalf("%s %s: weight %d code %d, want %d", s, kind, i, op.Weights[i], want)
				}
			}
			if kind == "lstm" {
				if _, ok := lite.TFLiteLSTMScales(&op); !ok {
					t.Errorf("%s: TFLiteLSTMScales refuses the per-gate scales", s)
				}
				_, pc, _ := perGateModel(t, r, o, kind, Default8Bit)
				pop, err := pc.IntegerOp(0.01, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := lite.TFLiteLSTMScales(&pop); ok {
					t.Error("TFLiteLSTMScales accepts the per-column scales of Default8Bit")
				}
			}
			in := qm.Layers()[0].(*QuantizeInput)
			xq := in.Forward(&nn.Context{}, []*tensor.Tensor{x})
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
					t.Fatalf("%s %s: value %d: exact code %d, simulated %d", s, kind, i, a, b)
				} else if d == 0 {
					same++
				}
			}
			if float64(same) < 0.98*float64(len(exact.Data)) {
				t.Errorf("%s %s: %d of %d codes equal", s, kind, same, len(exact.Data))
			}
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
					t.Fatalf("%s %s: output %d: %v before saving, %v after loading", s, kind, i, av.Data[i], b[0].Data[i])
				}
			}
		}
	}
}

// TestNBitPerGateName checks the scheme's name and that PerGate leaves the
// other layers' weight spec and the default recurrent spec unchanged.
func TestNBitPerGateName(t *testing.T) {
	s := Default8Bit
	s.PerGate = true
	if got := s.String(); got != "w8a8-gate" {
		t.Errorf("name %q, want w8a8-gate", got)
	}
	if s.Weight(1) != Default8Bit.Weight(1) {
		t.Error("PerGate changes the other layers' weight spec")
	}
	if Default8Bit.GateWeight(7) != Default8Bit.Weight(1) {
		t.Error("GateWeight without PerGate differs from Weight(1)")
	}
	pt := NBit{WeightBits: 8, ActivationBits: 8, PerGate: true}
	if g := pt.GateWeight(7); !g.PerAxis || g.GroupSize != 7 || g.Axis != 1 {
		t.Errorf("per-tensor scheme with PerGate: %+v", g)
	}
}

// TestQuantizeLSTMHostileGroupSize builds recurrent layers from saved
// configurations whose kernel quantizers have group sizes that do not
// split the gate columns (or are negative, or without per-axis): each is
// a one-line error; a group size of U builds.
func TestQuantizeLSTMHostileGroupSize(t *testing.T) {
	o := `{"kind":"moving_average","bits":8}`
	k := func(extra string) string {
		return `{"kind":"last_value","bits":8,"narrow_range":true,"symmetric":true` + extra + `}`
	}
	cfg := func(kernel string) string {
		return `{"lstm":{"units":4,"use_bias":true},"kernel_quantizer":` + kernel + `,"recurrent_quantizer":` + k(`,"per_axis":true,"axis":1`) + `,"output_quantizer":` + o + `}`
	}
	for _, typ := range []string{"QuantizeLSTM", "QuantizeSimpleRNN", "QuantizeGRU"} {
		for name, kernel := range map[string]string{
			"not dividing": k(`,"per_axis":true,"axis":1,"group_size":5`),
			"huge":         k(`,"per_axis":true,"axis":1,"group_size":4611686018427387904`),
			"negative":     k(`,"per_axis":true,"axis":1,"group_size":-4`),
			"per tensor":   k(`,"group_size":4`),
		} {
			l, err := nn.NewLayer(typ, "lstm", []byte(cfg(kernel)))
			if err == nil {
				_, err = l.Build([]tensor.Shape{{5, 3}})
			}
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s %s: %v", typ, name, err)
			}
		}
		l, err := nn.NewLayer(typ, "lstm", []byte(cfg(k(`,"per_axis":true,"axis":1,"group_size":4`))))
		if err == nil {
			_, err = l.Build([]tensor.Shape{{5, 3}})
		}
		if err != nil {
			t.Errorf("%s, group size U: %v", typ, err)
		}
	}
}
