package convert

import (
	"context"
	"os"
	"testing"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// trainQAT trains a model briefly in float, quantizes it with the scheme
// (BN frozen half way) and fine-tunes it: a realistic QAT model for the
// agreement tests.
func trainQAT(t *testing.T, name string, scheme quantize.NBit, n int) *nn.Model {
	t.Helper()
	train, _, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	train = train.Take(n)
	m, err := models.Build(name, train.X.Shape[1:], train.Classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	fit := func(m *nn.Model, lr float64) {
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(lr)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(context.Background(), train.X, train.Y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
	}
	fit(m, 2e-3)
	qm, err := quantize.Model(m, quantize.WithScheme(scheme), quantize.WithFreezeBNAfter(n/32/2))
	if err != nil {
		t.Fatal(err)
	}
	fit(qm, 2e-4)
	return qm
}

// Agreement is the comparison of a QAT model and its integer model on a
// batch: top-1 and output codes.
type agreement struct {
	n, top1Same      int
	vals, same, off1 int
	worst            int32
}

// compareOutputs runs the QAT model (inference mode) and the integer model
// on x and compares the output codes (the QAT output fake quant's integers
// against the int8 model's) and the top-1 classes.
func compareOutputs(t *testing.T, qat *nn.Model, im *lite.Model, x *tensor.Tensor, batch int) agreement {
	t.Helper()
	var oq quantize.Quantizer
	switch l := qat.Layer(qat.OutputNames()[0]).(type) {
	case *quantize.QuantizeWrapper:
		oq = l.OutputQuant()
	case *quantize.FoldedConvBN:
		oq = l.OutputQuant()
	}
	if oq == nil {
		t.Fatal("the QAT model's output is not quantized")
	}
	s, zp := oq.Scales()
	qmin, qmax := qmath.QRange(oq.Spec().Bits, false)
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	var a agreement
	N := x.Shape[0]
	for lo := 0; lo < N; lo += batch {
		hi := min(lo+batch, N)
		xb := x.Batch(lo, hi)
		ys, err := qat.Forward(&nn.Context{}, xb)
		if err != nil {
			t.Fatal(err)
		}
		if err := it.SetInput(0, xb); err != nil {
			t.Fatal(err)
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		codes := it.OutputInt8(0).Data
		C := len(codes) / (hi - lo)
		for i := 0; i < hi-lo; i++ {
			bq, bi := 0, 0
			for j := 0; j < C; j++ {
				q := qmath.QuantizeValue(ys[0].Data[i*C+j], s[0], zp[0], qmin, qmax)
				g := int32(codes[i*C+j])
				d := q - g
				if d < 0 {
					d = -d
				}
				a.vals++
				switch d {
				case 0:
					a.same++
				case 1:
					a.off1++
				}
				a.worst = max(a.worst, d)
				if ys[0].Data[i*C+j] > ys[0].Data[i*C+bq] {
					bq = j
				}
				if codes[i*C+j] > codes[i*C+bi] {
					bi = j
				}
			}
			a.n++
			if bq == bi {
				a.top1Same++
			}
		}
	}
	return a
}

func checkAgreement(t *testing.T, a agreement) {
	t.Helper()
	t.Logf("%d inputs: top-1 identical %.3f%%; %d values: identical %.3f%%, 1 LSB %.3f%%, worst %d LSB",
		a.n, 100*float64(a.top1Same)/float64(a.n), a.vals, 100*float64(a.same)/float64(a.vals),
		100*float64(a.off1)/float64(a.vals), a.worst)
	if float64(a.top1Same) < 0.999*float64(a.n) {
		t.Errorf("top-1 identical on %d of %d inputs, want >= 99.9%%", a.top1Same, a.n)
	}
	// The QAT model's inference mode computes the integer engine's
	// arithmetic (quantize.Link): the codes must agree bit for bit, up to
	// rare accumulator-bound fallbacks.
	if float64(a.same) < 0.999*float64(a.vals) {
		t.Errorf("output codes identical on %d of %d values, want >= 99.9%%", a.same, a.vals)
	}
	if a.worst > 1 {
		t.Errorf("output codes up to %d LSB apart, want at most 1", a.worst)
	}
}

// long reports whether the full-size checks were asked for (GOQAT_LONG=1).
func long() bool { return os.Getenv("GOQAT_LONG") != "" }

// TestAgreementMNISTCNN converts briefly trained mnist-cnn QAT models
// (8-bit and W4A8) and compares them with their integer models on 300
// MNIST test images after training on 256 (GOQAT_LONG=1: 2000 test images
// after training on 2000; the full test sets: TestAgreementFiles).
func TestAgreementMNISTCNN(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on MNIST")
	}
	_, test, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	nTrain, nTest := 256, 300
	if long() {
		nTrain, nTest = 2000, 2000
	}
	test = test.Take(nTest)
	for _, sc := range []quantize.NBit{quantize.Default8Bit, {WeightBits: 4, ActivationBits: 8, PerAxis: true}} {
		t.Run(sc.String(), func(t *testing.T) {
			qat := trainQAT(t, "mnist-cnn", sc, nTrain)
			for _, full := range []bool{false, true} {
				var opts []Option
				if full {
					opts = append(opts, FullInteger())
				}
				im, err := Convert(qat, opts...)
				if err != nil {
					t.Fatal(err)
				}
				checkAgreement(t, compareOutputs(t, qat, im, test.X, 100))
			}
		})
	}
}

// TestAgreementFiles compares QAT model files (GOQAT_QAT_FILES, a list
// separated by ':') with their integer models on the whole MNIST test set
// (GOQAT_DATA: mnist or fashion).
func TestAgreementFiles(t *testing.T) {
	files := os.Getenv("GOQAT_QAT_FILES")
	if files == "" {
		t.Skip("GOQAT_QAT_FILES not set")
	}
	data := os.Getenv("GOQAT_DATA")
	if data == "" {
		data = "mnist"
	}
	_, test, err := datasets.Load(data, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range splitList(files) {
		qat, err := nn.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		im, err := Convert(qat)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s on %s:", f, data)
		checkAgreement(t, compareOutputs(t, qat, im, test.X, 500))
		rs, err := Compare(qat, im, test.X.Batch(0, 500))
		if err != nil {
			t.Fatal(err)
		}
		t.Log("per layer, first 500 images:\n" + FormatReports(rs))
	}
}

func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
