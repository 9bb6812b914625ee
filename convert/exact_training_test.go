package convert

import (
	"context"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
)

// checkExactAfterTraining is the common frame of the agreement tests of
// real-network blocks: it trains the float model that build returns for
// one epoch on 256 MNIST images (Adam 2e-3), then, for each scheme in a
// subtest, makes its QAT model (BN frozen after 4 steps), fine-tunes it for
// one epoch (Adam 2e-4) and converts it. It requires the integer model to
// compute the QAT model's output codes exactly on 200 test images, and
// every layer's codes to be identical (Compare), then calls check with
// the models and the per-layer reports for the test's own checks.
func checkExactAfterTraining(t *testing.T, build func(*testing.T) *nn.Model, schemes []quantize.NBit,
	check func(t *testing.T, qat *nn.Model, im *lite.Model, rs []LayerReport)) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains on MNIST")
	}
	train, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	train, test = train.Take(256), test.Take(200)
	fit := func(t *testing.T, m *nn.Model, lr float64) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
	}
	fm := build(t)
	fit(t, fm, 2e-3)
	for _, sc := range schemes {
		t.Run(sc.String(), func(t *testing.T) {
			qat, err := quantize.Model(fm, quantize.WithScheme(sc), quantize.WithFreezeBNAfter(4))
			if err != nil {
				t.Fatal(err)
			}
			fit(t, qat, 2e-4)
			im, err := Convert(qat)
			if err != nil {
				t.Fatal(err)
			}
			a := compareOutputs(t, qat, im, test.X, 100)
			checkAgreement(t, a)
			if a.same != a.vals {
				t.Errorf("output codes identical on %d of %d values, want all", a.same, a.vals)
			}
			rs, err := Compare(qat, im, test.X)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Same != 1 {
					t.Errorf("layer %s (%s): codes identical on %.4f%%, want 100%%", r.Layer, r.Op, 100*r.Same)
				}
			}
			check(t, qat, im, rs)
			if t.Failed() {
				t.Log("\n" + FormatReports(rs))
			}
		})
	}
}

// opsSeen returns the op types of the reports.
func opsSeen(rs []LayerReport) map[lite.OpType]bool {
	seen := map[lite.OpType]bool{}
	for _, r := range rs {
		seen[r.Op] = true
	}
	return seen
}
