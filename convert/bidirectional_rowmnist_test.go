package convert

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestBidirectionalRowMNIST (GOQAT_BIDI_ROWMNIST=units, e.g. 32) trains
// row-MNIST through a Bidirectional LSTM: Reshape (28, 28) ->
// Bidirectional(LSTM(units)) -> Dense(10), 2 float epochs then 1 QAT epoch
// (8-bit) at batch 32 on the 60,000 training images, converts it and
// reports the float, QAT and int8 test accuracy and the integer model's
// agreement with QAT on the 10,000 test images (docs/BENCHMARKS.md,
// Quantized Bidirectional). QAT must stay within 0.3 point of float and
// every output code must be identical.
func TestBidirectionalRowMNIST(t *testing.T) {
	env := os.Getenv("GOQAT_BIDI_ROWMNIST")
	if env == "" {
		t.Skip("set GOQAT_BIDI_ROWMNIST=units to train row-MNIST through a Bidirectional LSTM")
	}
	units, err := strconv.Atoi(env)
	if err != nil || units < 1 || units > 512 {
		t.Fatalf("GOQAT_BIDI_ROWMNIST=%q: want units 1 to 512", env)
	}
	train, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.NewBidirectional(nn.NewLSTM(units))
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1}, nn.NewReshape(28, 28), b, nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(1)
	fit := func(m *nn.Model, lr float64, epochs int) (float64, time.Duration) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr), Metrics: []string{"accuracy"}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: epochs, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		_, acc, err := m.Evaluate(context.Background(), test.X, test.Y, nn.EvaluateOptions{BatchSize: 500, Verbose: nn.VerboseSilent})
		if err != nil {
			t.Fatal(err)
		}
		return acc, el
	}
	floatAcc, ft := fit(m, 2e-3, 2)
	qat, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	qatAcc, qt := fit(qat, 2e-4, 1)
	im, err := Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	a := compareOutputs(t, qat, im, test.X, 500)
	t.Logf("Bidirectional(LSTM(%d)) row-MNIST: float %.2f%% (2 epochs, %.0f s), QAT int8 %.2f%% (1 epoch, %.0f s); int8 vs QAT: %d of %d output codes and %d of %d classes identical",
		units, 100*floatAcc, ft.Seconds(), 100*qatAcc, qt.Seconds(), a.same, a.vals, a.top1Same, a.n)
	if qatAcc < floatAcc-0.003 {
		t.Errorf("QAT accuracy %.2f%% more than 0.3 point under float %.2f%%", 100*qatAcc, 100*floatAcc)
	}
	if a.same != a.vals || a.top1Same != a.n {
		t.Errorf("%d of %d output codes and %d of %d classes differ", a.vals-a.same, a.vals, a.n-a.top1Same, a.n)
	}
}
