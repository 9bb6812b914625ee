package convert

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// sequenceTask returns n sequences of t steps of f features (uniform in
// [-1, 1]) labelled by the feature among the first three whose sum over
// the steps is largest, weighted towards the later steps: a task an LSTM
// learns in a few hundred steps.
func sequenceTask(r *rand.Rand, n, t, f int) (x, y *tensor.Tensor) {
	x, y = tensor.New(n, t, f), tensor.New(n)
	for i := 0; i < n; i++ {
		var sum [3]float64
		for s := 0; s < t; s++ {
			for j := 0; j < f; j++ {
				v := r.Float32()*2 - 1
				x.Data[(i*t+s)*f+j] = v
				if j < 3 {
					sum[j] += float64(v) * float64(s+1)
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

// fitModel compiles m with Adam and trains it for epochs on (x, y).
func fitModel(t *testing.T, m *nn.Model, x, y *tensor.Tensor, lr float64, epochs int) {
	t.Helper()
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Epochs: epochs, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
}

// TestAgreementLSTM trains small LSTM, SimpleRNN and GRU classifiers (last
// output; all outputs of a backwards layer, flattened) on a generated
// sequence task,
// fine-tunes them with QAT, converts them (float and full-integer edges)
// and checks that the integer model gives the QAT model's output codes
// and top-1 classes, also after a save/load round trip of the integer
// model, and that QAT keeps the float accuracy.
func TestAgreementLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	x, y := sequenceTask(r, 1024, 9, 4)
	xt, yt := sequenceTask(r, 512, 9, 4)
	for _, c := range []struct {
		o    nn.RecurrentOptions
		kind string
	}{
		{nn.RecurrentOptions{Units: 12, UseBias: true}, "LSTM"},
		{nn.RecurrentOptions{Units: 7, UseBias: true, ReturnSequences: true, GoBackwards: true}, "LSTM"},
		{nn.RecurrentOptions{Units: 16, UseBias: true}, "SimpleRNN"},
		{nn.RecurrentOptions{Units: 5, ReturnSequences: true, GoBackwards: true}, "SimpleRNN"},
		{nn.RecurrentOptions{Units: 12, UseBias: true}, "GRU"},
		{nn.RecurrentOptions{Units: 6, UseBias: true, ReturnSequences: true, GoBackwards: true}, "GRU"},
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
		qat, err := quantize.Model(m)
		if err != nil {
			t.Fatal(err)
		}
		fitModel(t, qat, x, y, 1e-3, 2)
		qatAcc := accuracyOf(t, qat, xt, yt)
		t.Logf("%s, units %d, sequences %v: float accuracy %.3f, QAT %.3f", c.kind, o.Units, o.ReturnSequences, floatAcc, qatAcc)
		if floatAcc < 0.8 {
			t.Errorf("float accuracy %.3f: the task was not learnt", floatAcc)
		}
		if qatAcc < floatAcc-0.03 {
			t.Errorf("QAT accuracy %.3f, float %.3f", qatAcc, floatAcc)
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
			a := compareOutputs(t, qat, im, xt, 100)
			checkAgreement(t, a)
			if a.same != a.vals {
				t.Errorf("%d of %d output codes differ", a.vals-a.same, a.vals)
			}
			if full {
				continue
			}
			path := filepath.Join(t.TempDir(), "lstm.int8.safetensors")
			if err := lite.Save(path, im); err != nil {
				t.Fatal(err)
			}
			lm, err := lite.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			b := compareOutputs(t, qat, lm, xt, 100)
			if b != a {
				t.Errorf("after a save/load round trip: %+v, before %+v", b, a)
			}
		}
	}
}

// accuracyOf is m's top-1 accuracy on (x, y), in inference mode.
func accuracyOf(t *testing.T, m *nn.Model, x, y *tensor.Tensor) float64 {
	t.Helper()
	acc, err := Accuracy(context.Background(), m, x, y, 128)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestAgreementLSTMRowMNIST trains lstm-rowmnist briefly (one float epoch
// and one QAT epoch on 1024 MNIST images, 64 steps in all), converts it
// and compares the QAT and integer models on 500 test images.
func TestAgreementLSTMRowMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains lstm-rowmnist on MNIST")
	}
	_, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	test = test.Take(500)
	qat := trainQAT(t, "lstm-rowmnist", quantize.Default8Bit, 1024)
	im, err := Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	a := compareOutputs(t, qat, im, test.X, 100)
	checkAgreement(t, a)
	acc, err := Accuracy(context.Background(), qat, test.X, test.Y, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("QAT accuracy after 64 steps: %.3f", acc)
}
