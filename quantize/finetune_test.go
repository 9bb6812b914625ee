package quantize_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// trainedFloat returns a small Conv+BN model trained briefly on x, y.
func trainedFloat(t *testing.T, x, y *tensor.Tensor) *nn.Model {
	t.Helper()
	conv := nn.NewConv2D(4, 3, 3)
	conv.UseBias = false
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	return m
}

// saved returns the bytes nn.Save writes for m: weights and quantizer
// state.
func saved(t *testing.T, m *nn.Model) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.Save(p, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFineTuneIsTheRecipe pins FineTune to the recipe written out by hand
// (the one goqat's commands ran before FineTune existed): the same scheme,
// BN-freeze step, calibration, optimizer, schedule and seed give a
// byte-identical saved model, and the float model is left as it was.
func TestFineTuneIsTheRecipe(t *testing.T) {
	ctx := context.Background()
	x, y := brightHalf(100, 3)
	float := trainedFloat(t, x, y)
	before := saved(t, float)
	scheme := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	const epochs, batch, lr, calib, seed = 2, 16, 3e-4, 40, 7
	var calibrated []byte
	r, err := quantize.FineTune(ctx, float, x, y, quantize.FineTuneOptions{
		Scheme: scheme, Calibrate: calib, Epochs: epochs, BatchSize: batch, LearningRate: lr,
		FreezeBNAfter: quantize.FreezeBNHalfway, Seed: seed, Verbose: nn.VerboseSilent,
		OnCalibrated: func(r *quantize.FineTuneResult) error {
			calibrated = saved(t, r.Model)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := epochs * 7 // ceil(100/16) batches per epoch
	if r.Steps != steps || r.FreezeBNAfter != steps/2 || r.CalibrationSamples != calib {
		t.Fatalf("steps %d, freeze %d, calibration %d; want %d, %d, %d", r.Steps, r.FreezeBNAfter, r.CalibrationSamples, steps, steps/2, calib)
	}
	if r.History == nil || len(r.History.Loss) != epochs {
		t.Fatalf("history %+v, want %d epochs", r.History, epochs)
	}

	qm, err := quantize.Model(float, quantize.WithScheme(scheme), quantize.WithFreezeBNAfter(steps/2))
	if err != nil {
		t.Fatal(err)
	}
	if err := quantize.Calibrate(ctx, qm, x.Batch(0, calib), batch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved(t, qm), calibrated) {
		t.Error("the model OnCalibrated saw differs from the hand-calibrated one")
	}
	opt := optim.NewAdam(lr)
	opt.LR = optim.Cosine{Base: lr, Steps: steps, Min: lr / 50}
	if err := qm.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: opt, Metrics: []string{"accuracy"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := qm.Fit(ctx, x, y, nn.FitOptions{BatchSize: batch, Epochs: epochs, Seed: seed, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved(t, r.Model), saved(t, qm)) {
		t.Error("FineTune's model differs from the hand-made recipe's")
	}
	if !bytes.Equal(saved(t, float), before) {
		t.Error("FineTune changed the float model")
	}
}

// With no epochs FineTune returns the calibrated (PTQ) model untrained;
// OnCalibrated's error stops it; impossible options are errors.
func TestFineTuneOptions(t *testing.T) {
	ctx := context.Background()
	x, y := brightHalf(40, 4)
	float := trainedFloat(t, x, y)
	r, err := quantize.FineTune(ctx, float, x, y, quantize.FineTuneOptions{Calibrate: 1000, FreezeBNAfter: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.History != nil || r.Steps != 0 || r.FreezeBNAfter != 5 || r.CalibrationSamples != 40 || !quantize.IsQAT(r.Model) {
		t.Errorf("0 epochs: history %v, steps %d, freeze %d, calibration %d, QAT %v; want nil, 0, 5, 40, true",
			r.History, r.Steps, r.FreezeBNAfter, r.CalibrationSamples, quantize.IsQAT(r.Model))
	}
	if sp := r.Model.Layer("dense").(*quantize.QuantizeWrapper).WeightQuantizer("kernel").Spec(); sp.Bits != 8 || !sp.PerAxis {
		t.Errorf("the zero scheme gave dense weights %+v, want Default8Bit's (8 bits, per axis)", sp)
	}
	stop := errors.New("stop here")
	_, err = quantize.FineTune(ctx, float, x, y, quantize.FineTuneOptions{Epochs: 1, Verbose: nn.VerboseSilent,
		OnCalibrated: func(*quantize.FineTuneResult) error { return stop }})
	if !errors.Is(err, stop) {
		t.Errorf("OnCalibrated's error: got %v", err)
	}
	for _, c := range []struct {
		o    quantize.FineTuneOptions
		want string
	}{
		{quantize.FineTuneOptions{Epochs: -1}, "Epochs"},
		{quantize.FineTuneOptions{BatchSize: -1}, "BatchSize"},
		{quantize.FineTuneOptions{LearningRate: -1}, "LearningRate"},
		{quantize.FineTuneOptions{Calibrate: -1}, "Calibrate"},
	} {
		if _, err := quantize.FineTune(ctx, float, x, y, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %s", c.o, err, c.want)
		}
	}
	if _, err := quantize.FineTune(ctx, nil, x, y, quantize.FineTuneOptions{}); err == nil {
		t.Error("nil model: no error")
	}
}
