package convert

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// paddedTask is sequenceTask on sequences of 2 to t real steps, padded
// with zero steps to t (after the sequence for half of them, before it for
// the others): the label is the feature among the first three whose sum
// over the real steps, weighted by their position in the real sequence,
// is largest.
func paddedTask(r *rand.Rand, n, t, f int) (x, y *tensor.Tensor) {
	x, y = tensor.New(n, t, f), tensor.New(n)
	for i := 0; i < n; i++ {
		length := 2 + r.IntN(t-1)
		start := 0
		if r.IntN(2) == 0 {
			start = t - length
		}
		var sum [3]float64
		for k := 0; k < length; k++ {
			for j := 0; j < f; j++ {
				v := r.Float32()*2 - 1
				x.Data[(i*t+start+k)*f+j] = v
				if j < 3 {
					sum[j] += float64(v) * float64(k+1)
				}
			}
		}
		best := 0
		for j := 1; j < 3; j++ {
			if sum[j] > sum[best] {
				best = j
			}
		}
		y.Data[i] = float32(best)
	}
	return x, y
}

// TestAgreementMasking trains LSTM, GRU and SimpleRNN classifiers with
// Masking on zero-padded sequences of random lengths, fine-tunes them with
// QAT, converts them (float and full-integer edges) and checks that the
// integer model gives the QAT model's output codes exactly, also after a
// save/load round trip, that the integer op carries Masking, and that
// QAT keeps the float accuracy.
func TestAgreementMasking(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 70))
	const steps, feats = 9, 4
	x, y := paddedTask(r, 1024, steps, feats)
	xt, yt := paddedTask(r, 512, steps, feats)
	for _, c := range []struct {
		o    nn.RecurrentOptions
		kind string
	}{
		{nn.RecurrentOptions{Units: 12, UseBias: true, Masking: true}, "LSTM"},
		{nn.RecurrentOptions{Units: 7, UseBias: true, ReturnSequences: true, GoBackwards: true, Masking: true}, "LSTM"},
		{nn.RecurrentOptions{Units: 12, UseBias: true, Masking: true}, "GRU"},
		{nn.RecurrentOptions{Units: 16, UseBias: true, Masking: true}, "SimpleRNN"},
	} {
		o := c.o
		var rec nn.Layer
		switch c.kind {
		case "SimpleRNN":
			rec = &nn.SimpleRNN{RecurrentOptions: o}
		case "GRU":
			rec = &nn.GRU{RecurrentOptions: o}
		default:
			rec = &nn.LSTM{RecurrentOptions: o}
		}
		layers := []nn.Layer{rec}
		if o.ReturnSequences {
			layers = append(layers, nn.NewFlatten())
		}
		layers = append(layers, nn.NewDense(3))
		m, err := nn.NewSequential(tensor.Shape{steps, feats}, layers...)
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(7)
		fitModel(t, m, x, y, 1e-2, 6)
		floatAcc := accuracyOf(t, m, xt, yt)
		qat, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		fitModel(t, qat, x, y, 1e-3, 2)
		qatAcc := accuracyOf(t, qat, xt, yt)
		if floatAcc < 0.75 {
			t.Errorf("%s: float accuracy %.3f: the task was not learnt", c.kind, floatAcc)
		}
		if qatAcc < floatAcc-0.03 {
			t.Errorf("%s: QAT accuracy %.3f, float %.3f", c.kind, qatAcc, floatAcc)
		}
		for _, full := range []bool{false, true} {
			var opts []Option
			if full {
				opts = append(opts, FullInteger())
			}
			im, err := Convert(qat, opts...)
			if err != nil {
				t.Fatal(err)
			}
			masked := 0
			for _, op := range im.Ops {
				if op.Masking {
					masked++
				}
			}
			if masked != 1 {
				t.Fatalf("%s: %d ops with Masking, want 1", c.kind, masked)
			}
			a := compareOutputs(t, qat, im, xt, 100)
			t.Logf("%s units %d sequences %v full-integer %v: float accuracy %.3f, QAT %.3f; %d of %d output codes and %d of %d classes identical",
				c.kind, o.Units, o.ReturnSequences, full, floatAcc, qatAcc, a.same, a.vals, a.top1Same, a.n)
			if a.same != a.vals || a.top1Same != a.n {
				t.Errorf("%s: %d of %d output codes and %d of %d classes differ", c.kind, a.vals-a.same, a.vals, a.n-a.top1Same, a.n)
			}
			if full {
				continue
			}
			path := filepath.Join(t.TempDir(), "masked.int8.safetensors")
			if err := lite.Save(path, im); err != nil {
				t.Fatal(err)
			}
			lm, err := lite.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if b := compareOutputs(t, qat, lm, xt, 100); b != a {
				t.Errorf("%s: after a save/load round trip %+v, before %+v", c.kind, b, a)
			}
		}
	}
}

// TestAgreementEmbeddingMasking is Embedding(MaskZero) -> LSTM (GRU)
// (Masking) -> Dense on the token task with padded tails: the quantized
// table's row 0 is zero codes, so the padding tokens are padding steps in
// the QAT model (exactly zero rows) and in the integer model (codes at the
// zero point); the integer model gives the QAT model's codes exactly, on
// valid and hostile indices (which also give zero rows).
func TestAgreementEmbeddingMasking(t *testing.T) {
	const steps, vocab = 6, 11
	r := rand.New(rand.NewPCG(19, 71))
	x, y := tokenTask(r, 768, steps, vocab)
	xt, yt := tokenTask(r, 400, steps, vocab)
	xh := xt.Clone()
	hostileIndices(r, xh, vocab)
	for _, kind := range []string{"LSTM", "GRU"} {
		emb := nn.NewEmbedding(vocab, 8)
		emb.MaskZero = true
		o := nn.RecurrentOptions{Units: 10, UseBias: true, Masking: true, GoBackwards: true}
		var rec nn.Layer = &nn.LSTM{RecurrentOptions: o}
		if kind == "GRU" {
			rec = &nn.GRU{RecurrentOptions: o}
		}
		m, err := nn.NewSequential(tensor.Shape{steps}, emb, rec, nn.NewDense(3))
		if err != nil {
			t.Fatal(err)
		}
		m.InitWeights(3)
		fitModel(t, m, x, y, 2e-2, 4)
		floatAcc := accuracyOf(t, m, xt, yt)
		qat, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		fitModel(t, qat, x, y, 1e-3, 1)
		qatAcc := accuracyOf(t, qat, xt, yt)
		if floatAcc < 0.9 || qatAcc < floatAcc-0.05 {
			t.Errorf("%s: float accuracy %.3f, QAT %.3f", kind, floatAcc, qatAcc)
		}
		im, err := Convert(qat)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []*tensor.Tensor{xt, xh} {
			a := compareOutputs(t, qat, im, in, 64)
			t.Logf("%s: float accuracy %.3f, QAT %.3f; %d of %d output codes and %d of %d classes identical",
				kind, floatAcc, qatAcc, a.same, a.vals, a.top1Same, a.n)
			if a.same != a.vals || a.top1Same != a.n {
				t.Errorf("%s: %d of %d output codes and %d of %d classes differ", kind, a.vals-a.same, a.vals, a.n-a.top1Same, a.n)
			}
		}
		// Where the padding tokens are changes nothing: three tokens then
		// padding, and the same tokens with padding before, between and
		// after them, give the same output codes.
		it, err := lite.NewInterpreter(im)
		if err != nil {
			t.Fatal(err)
		}
		a, b := tensor.New(1, steps), tensor.New(1, steps)
		for s := 0; s < 3; s++ {
			a.Data[s] = float32(1 + r.IntN(vocab-1))
			b.Data[1+2*s] = a.Data[s]
		}
		outs := make([][]int8, 2)
		for k, in := range []*tensor.Tensor{a, b} {
			if err := it.SetInput(0, in); err != nil {
				t.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			outs[k] = append([]int8(nil), it.OutputInt8(0).Data...)
		}
		if string(i8s(outs[0])) != string(i8s(outs[1])) {
			t.Errorf("%s: padding changed the output: %v, %v", kind, outs[0], outs[1])
		}
	}
}

// i8s views codes as bytes.
func i8s(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}
