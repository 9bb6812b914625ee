package convert

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestAgreementLSTMPerGate is TestAgreementLSTM with the recurrent weights
// quantized per gate matrix (quantize.NBit.PerGate, 8-bit and W4A8): LSTM,
// GRU and SimpleRNN classifiers on the generated sequence task, fine-tuned
// with QAT and converted; the integer model must give the QAT model's
// output codes on every value. The LSTM's integer op has the scales
// TFLite's integer LSTM takes (lite.TFLiteLSTMScales), converts in
// rounding tflite too, and its outputs there stay within a few steps of
// goqat's rounding.
func TestAgreementLSTMPerGate(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 21))
	x, y := sequenceTask(r, 1024, 9, 4)
	xt, yt := sequenceTask(r, 512, 9, 4)
	for _, c := range []struct {
		o      nn.RecurrentOptions
		kind   string
		scheme quantize.NBit
	}{
		{nn.RecurrentOptions{Units: 12, UseBias: true}, "LSTM", quantize.NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true, PerGate: true}},
		{nn.RecurrentOptions{Units: 7, UseBias: true, ReturnSequences: true, GoBackwards: true}, "LSTM", quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true, PerGate: true}},
		{nn.RecurrentOptions{Units: 12, UseBias: true}, "GRU", quantize.NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true, PerGate: true}},
		{nn.RecurrentOptions{Units: 16, UseBias: true}, "SimpleRNN", quantize.NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true, PerGate: true}},
	} {
		o := c.o
		var layers []nn.Layer
		switch c.kind {
		case "SimpleRNN":
			layers = []nn.Layer{&nn.SimpleRNN{RecurrentOptions: o}}
		case "GRU":
			layers = []nn.Layer{&nn.GRU{RecurrentOptions: o}}
		default:
			layers = []nn.Layer{&nn.LSTM{RecurrentOptions: o}}
		}
		if o.ReturnSequences {
			layers = append(layers, nn.NewFlatten())
		}
		layers = append(layers, nn.NewDense(3))
		m, err := nn.NewSequential(tensor.Shape{9, 4}, layers...)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(7)
		fitModel(t, m, x, y, 1e-2, 6)
		floatAcc := accuracyOf(t, m, xt, yt)
		qat, err := quantize.Model(m, quantize.WithScheme(c.scheme))
		if err != nil {
			t.Fatal(err)
		}
		fitModel(t, qat, x, y, 1e-3, 2)
		qatAcc := accuracyOf(t, qat, xt, yt)
		t.Logf("%s %s, units %d: float accuracy %.3f, QAT %.3f", c.kind, c.scheme, o.Units, floatAcc, qatAcc)
		if floatAcc < 0.8 {
			t.Errorf("float accuracy %.3f: the task was not learnt", floatAcc)
		}
		if qatAcc < floatAcc-0.03 {
			t.Errorf("QAT accuracy %.3f, float %.3f", qatAcc, floatAcc)
		}
		im, err := Convert(qat)
		if err != nil {
			t.Fatal(err)
		}
		a := compareOutputs(t, qat, im, xt, 100)
		checkAgreement(t, a)
		if a.same != a.vals {
			t.Errorf("%s %s: %d of %d output codes differ", c.kind, c.scheme, a.vals-a.same, a.vals)
		}
		op := recurrentOp(t, im)
		u := o.Units
		for b := 0; b < len(op.WeightScales)/u; b++ {
			blk := op.WeightScales[b*u : (b+1)*u]
			for _, s := range blk {
				if s != blk[0] {
					t.Fatalf("%s: gate matrix %d has scales %v", c.kind, b, blk)
				}
			}
		}
		if c.kind != "LSTM" {
			continue
		}
		if _, ok := lite.TFLiteLSTMScales(op); !ok {
			t.Fatalf("%s: TFLiteLSTMScales refuses the per-gate scales", c.scheme)
		}
		tm, err := Convert(qat, Rounding(lite.RoundingTFLite))
		if err != nil {
			t.Fatal(err)
		}
		b := compareOutputs(t, qat, tm, xt, 100)
		t.Logf("%s rounding tflite against QAT: %d of %d codes identical, worst %d LSB, top-1 %d of %d",
			c.scheme, b.same, b.vals, b.worst, b.top1Same, b.n)
		if b.worst > 4 || float64(b.top1Same) < 0.98*float64(b.n) {
			t.Errorf("%s rounding tflite: worst %d LSB, top-1 identical %d of %d", c.scheme, b.worst, b.top1Same, b.n)
		}
	}
}

// recurrentOp returns the integer model's LSTM, GRU or SimpleRNN op.
func recurrentOp(t *testing.T, im *lite.Model) *lite.Op {
	t.Helper()
	for i := range im.Ops {
		switch im.Ops[i].Type {
		case lite.OpLSTM, lite.OpGRU, lite.OpSimpleRNN:
			return &im.Ops[i]
		}
	}
	t.Fatal("no recurrent op in the integer model")
	return nil
}
