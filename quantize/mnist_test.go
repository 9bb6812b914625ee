package quantize

import (
	"context"
	"testing"
	"time"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
)

// mnistTrain is the number of MNIST training images the test uses (the
// full-size figures come from `goqat train` and `goqat quantize`).
const mnistTrain = 10000

// TestMNISTQAT trains mnist-cnn for one epoch (batch 32) on 10k MNIST images, quantizes
// it (Default8Bit) and fine-tunes it for one QAT epoch: the fake-quant
// accuracy on the 10k test images must be at least the float accuracy
// minus 0.1 point.
func TestMNISTQAT(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on MNIST")
	}
	train, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	n := mnistTrain
	if kernels.ActivePath() == kernels.Generic {
		// The pure-Go GEMM (-tags noasm) is ~17x slower: a smaller run keeps
		// the suite short; the full size runs on the SIMD paths.
		n, test = 2000, test.Take(2000)
	}
	train = train.Take(n)
	m, err := models.Build("mnist-cnn", train.X.Shape[1:], train.Classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	fit := func(m *nn.Model, lr float64) (float64, time.Duration) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr), Metrics: []string{"accuracy"}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		_, acc, err := m.Evaluate(context.Background(), test.X, test.Y, nn.EvaluateOptions{BatchSize: 500, Verbose: nn.VerboseSilent})
		if err != nil {
			t.Fatal(err)
		}
		return acc, el
	}
	floatAcc, ft := fit(m, 2e-3)
	qm, err := Model(m, WithFreezeBNAfter(n/32/2))
	if err != nil {
		t.Fatal(err)
	}
	qatAcc, qt := fit(qm, 2e-4)
	t.Logf("float %.2f%% (epoch %.1fs), QAT int8 fake-quant %.2f%% (epoch %.1fs)", 100*floatAcc, ft.Seconds(), 100*qatAcc, qt.Seconds())
	if qatAcc < floatAcc-0.001 {
		t.Errorf("QAT accuracy %.2f%% < float %.2f%% - 0.1", 100*qatAcc, 100*floatAcc)
	}
}
