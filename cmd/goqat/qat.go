package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
	"github.com/goqat/goqat/threads"
)

// lossFn is the loss every built-in classifier trains with.
var lossFn = nn.SparseCategoricalCrossentropy{FromLogits: true}

// evalAccuracy returns m's test accuracy in inference mode (m is compiled
// for evaluation, which keeps no optimizer).
func evalAccuracy(ctx context.Context, m *nn.Model, test *datasets.Dataset) (float64, error) {
	if err := m.Compile(nn.CompileOptions{Loss: lossFn, Metrics: []string{"accuracy"}}); err != nil {
		return 0, err
	}
	_, acc, err := m.Evaluate(ctx, test.X, test.Y, nn.EvaluateOptions{BatchSize: 256, Verbose: nn.VerboseSilent})
	return acc, err
}

// ptqAccuracy returns the calibrated model's test accuracy. In inference
// mode a QAT model computes bit for bit what its integer model computes
// (lite's agreement tests hold this on whole test sets), so the integer
// engine, several times faster, measures it; the QAT model itself does
// when conversion is not possible.
func ptqAccuracy(ctx context.Context, qm *nn.Model, test *datasets.Dataset) (float64, error) {
	if im, err := lite.Convert(qm); err == nil {
		if acc, err := lite.Accuracy(im, test.X, test.Y, 256); err == nil {
			return acc, nil
		}
	}
	return evalAccuracy(ctx, qm, test)
}

// qatResult is what fineTuneQAT measured.
type qatResult struct {
	model       *nn.Model
	ptqAccuracy float64 // after calibration, before fine-tuning
	qatAccuracy float64 // after fine-tuning (= ptqAccuracy with 0 epochs)
	seconds     float64 // fine-tuning time
	steps       int
	history     *nn.History // per-epoch metrics of the fine-tuning (nil with 0 epochs)
	// testScores holds the fine-tuned model's scores on the test set (N,
	// classes), from the pass that measured qatAccuracy (nil with 0 epochs).
	testScores *tensor.Tensor
}

// top1Accuracy returns the share of rows of scores (N, classes) whose first
// largest value is at the label y (N).
func top1Accuracy(scores, y *tensor.Tensor) float64 {
	n := len(y.Data)
	C, right := len(scores.Data)/n, 0
	for i := range n {
		if argmax(scores.Data[i*C:(i+1)*C]) == int(y.Data[i]) {
			right++
		}
	}
	return float64(right) / float64(n)
}

// fineTuneQAT quantizes the float model fm with the scheme, calibrates the
// ranges on c.calibrate training images, evaluates (PTQ), fine-tunes with
// QAT for c.epochs (Adam, cosine decay; folded BN frozen after
// c.freezeBNAfter steps, half the steps if negative) and evaluates again.
func fineTuneQAT(ctx context.Context, fm *nn.Model, train, test *datasets.Dataset, c quantizeConfig, scheme quantize.NBit) (*qatResult, error) {
	steps := c.epochs * ((train.Len() + c.batch - 1) / c.batch)
	freeze := c.freezeBNAfter
	if freeze < 0 {
		freeze = steps / 2
	}
	qm, err := quantize.Model(fm, quantize.WithScheme(scheme), quantize.WithFreezeBNAfter(freeze))
	if err != nil {
		return nil, err
	}
	calib := min(c.calibrate, train.Len())
	if calib > 0 {
		if err := quantize.Calibrate(ctx, qm, train.X.Batch(0, calib), c.batch); err != nil {
			return nil, err
		}
	}
	r := &qatResult{model: qm, steps: steps}
	if r.ptqAccuracy, err = ptqAccuracy(ctx, qm, test); err != nil {
		return nil, err
	}
	fmt.Printf("PTQ %s (calibrated on %d images): %.2f%%\n", scheme, calib, 100*r.ptqAccuracy)
	r.qatAccuracy = r.ptqAccuracy
	if c.epochs == 0 {
		return r, nil
	}
	opt := optim.NewAdam(c.lr)
	opt.LR = optim.Cosine{Base: c.lr, Steps: steps, Min: c.lr / 50}
	if err := qm.Compile(nn.CompileOptions{Loss: lossFn, Optimizer: opt, Metrics: []string{"accuracy"}}); err != nil {
		return nil, err
	}
	fmt.Printf("QAT %s: %d train images, %d epochs, batch %d, lr %g, BN frozen after step %d of %d, %d threads\n",
		scheme, train.Len(), c.epochs, c.batch, c.lr, freeze, steps, threads.N())
	start := time.Now()
	if r.history, err = qm.Fit(ctx, train.X, train.Y, nn.FitOptions{BatchSize: c.batch, Epochs: c.epochs, Seed: c.seed, Verbose: c.verbose}); err != nil {
		return nil, err
	}
	r.seconds = time.Since(start).Seconds()
	// One inference pass gives the accuracy and the scores that the demo's
	// int8 agreement check compares with.
	if r.testScores, err = qm.Predict(ctx, test.X, 256); err != nil {
		return nil, err
	}
	r.qatAccuracy = top1Accuracy(r.testScores, test.Y)
	return r, nil
}
