package tflite

import (
	"context"
	"os"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// seqNet returns the QAT and integer models of a built-in sequence network
// (lstm-rowmnist, conv1d-rowmnist) trained for one short epoch on 1,000
// MNIST images and post-training quantized (the LSTM's weights per gate
// matrix, quantize.NBit.PerGate: TFLite's integer LSTM takes one scale per
// gate matrix), and n MNIST test images.
func seqNet(t *testing.T, name string, n int) (*nn.Model, *lite.Model, *tensor.Tensor) {
	t.Helper()
	ctx := context.Background()
	train, test, err := datasets.MNIST()
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.BuildWith(name, tensor.Shape{28, 28, 1}, 10, 7, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(2e-3)}); err != nil {
		t.Fatal(err)
	}
	const nTrain = 1000
	if _, err := m.Fit(ctx, train.X.Batch(0, nTrain), train.Y.Batch(0, nTrain), nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 3, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	scheme := quantize.Default8Bit
	scheme.PerGate = true // only the LSTM's weights change
	q, err := quantize.PTQ(ctx, m, train.X.Batch(nTrain, nTrain+256), 32, quantize.WithScheme(scheme))
	if err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	return q, im, test.X.Batch(0, n)
}

// TestConformanceSeq exports lstm-rowmnist and conv1d-rowmnist with int8
// edges and runs them in TFLite's runtime (a fresh interpreter per
// sample: the LSTM's state tensors persist between invocations) on 16
// MNIST test images: rounding tflite must give TFLite's codes on every
// value; goqat's rounding and the QAT model's top-1 are reported.
func TestConformanceSeq(t *testing.T) {
	if testing.Short() {
		t.Skip("trains, converts and runs the sequence networks in TFLite: skipped in -short mode")
	}
	if os.Getenv("GOQAT_TFLITE_CONFORMANCE") != "1" {
		t.Skip("TFLite conformance runs with GOQAT_TFLITE_CONFORMANCE=1 (scripts/tflite_conformance.sh)")
	}
	dir := tfliteDir(t)
	const n = 16
	for _, name := range []string{"lstm-rowmnist", "conv1d-rowmnist"} {
		t.Run(name, func(t *testing.T) {
			q, im, x := seqNet(t, name, n)
			fi, err := FullInteger(im)
			if err != nil {
				t.Fatal(err)
			}
			file, err := Marshal(fi, Options{})
			if err != nil {
				t.Fatal(err)
			}
			codes := inputCodes(fi, x)
			got := int8sOf(runTFLite(t, dir, file, int8Bytes(codes.Data), n, "fresh"))
			c := fi.Tensors[fi.Outputs[0]].Shape.Size()
			for _, mode := range []lite.Rounding{lite.RoundingGoqat, lite.RoundingTFLite} {
				fm := *fi
				fm.Rounding = mode
				want := runGoqatN(t, &fm, codes)
				if len(got) != len(want) {
					t.Fatalf("TFLite returned %d output values, goqat %d", len(got), len(want))
				}
				a := compareCodes(want, got, c)
				t.Logf("%s rounding %s: %d samples: values identical %d/%d (max |diff| %d), top-1 identical %d/%d",
					name, mode, n, a.same, a.values, a.maxDiff, a.top1, a.rows)
				if mode == lite.RoundingTFLite && a.same != a.values {
					t.Errorf("rounding tflite: values identical on %d of %d, want all", a.same, a.values)
				}
			}
			qy, err := q.Predict(context.Background(), x, 16)
			if err != nil {
				t.Fatal(err)
			}
			agree := 0
			for r := range n {
				if argmaxF(qy.Data[r*c:(r+1)*c]) == argmax(got[r*c:(r+1)*c]) {
					agree++
				}
			}
			t.Logf("%s QAT vs TFLite: top-1 identical %d/%d", name, agree, n)
		})
	}
}

func argmaxF(v []float32) int {
	k := 0
	for i, x := range v {
		if x > v[k] {
			k = i
		}
	}
	return k
}
