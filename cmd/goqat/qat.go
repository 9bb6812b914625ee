package main

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/threads"
)

// lossFn is the loss every built-in classifier trains with.
var lossFn = nn.SparseCategoricalCrossentropy{FromLogits: true}

// evalBatch is the batch size of the commands' evaluations.
const evalBatch = 256

// evalAccuracy returns m's test accuracy in inference mode (m is compiled
// for evaluation, which keeps no optimizer).
func evalAccuracy(ctx context.Context, m *nn.Model, test *datasets.Dataset) (float64, error) {
	if err := m.Compile(nn.CompileOptions{Loss: lossFn, Metrics: []string{"accuracy"}}); err != nil {
		return 0, err
	}
	_, acc, err := m.Evaluate(ctx, test.X, test.Y, nn.EvaluateOptions{BatchSize: evalBatch, Verbose: nn.VerboseSilent})
	return acc, err
}

// fineTune runs quantize.FineTune on the float model fm with c's settings
// and checkpoint flags, and returns its result and the post-training
// quantization (PTQ) test accuracy of the calibrated model. After
// calibration it prints the PTQ accuracy and, before fine-tuning, the
// plan (and where a resumed run continues). With a loader (augmentation,
// or an image folder streamed from disk) the fine-tuning's batches come
// from it and calibration reads the first examples. With --distill or
// --teacher the fine-tuning distils (quantize.FineTuneDistill).
func fineTune(ctx context.Context, fm *nn.Model, train *trainSet, test *datasets.Dataset, loader *datasets.Loader, c quantizeConfig, scheme quantize.NBit) (*quantize.FineTuneResult, float64, error) {
	var fit nn.FitOptions
	resuming, err := c.ckpt.apply(&fit)
	if err != nil {
		return nil, 0, err
	}
	fit.Batches = fitBatches(loader)
	if err := c.dist.apply(&fit); err != nil {
		return nil, 0, err
	}
	x, y, err := train.calibrationSet(c.calibrate)
	if err != nil {
		return nil, 0, err
	}
	if c.kd.active() {
		switch {
		case fit.Checkpoint != nil:
			return nil, 0, fmt.Errorf("--distill and --teacher do not support --checkpoint-dir or --resume yet")
		case fit.DataParallel != nil:
			return nil, 0, fmt.Errorf("--distill and --teacher do not support --distributed or --blocks yet")
		}
	}
	var ptq float64
	opts := quantize.FineTuneOptions{
		Scheme:        scheme,
		Calibrate:     c.calibrate,
		Epochs:        c.epochs,
		BatchSize:     c.batch,
		LearningRate:  c.lr,
		FreezeBNAfter: c.freezeBNAfter,
		Loss:          lossFn,
		Seed:          c.seed,
		Verbose:       c.verbose,
		ClipNorm:      fit.ClipNorm,
		Checkpoint:    fit.Checkpoint,
		Resume:        fit.Resume,
		DataParallel:  fit.DataParallel,
		Batches:       fitBatches(loader),
		OnCalibrated: func(r *quantize.FineTuneResult) error {
			var err error
			if ptq, err = convert.Accuracy(ctx, r.Model, test.X, test.Y, evalBatch); err != nil {
				return err
			}
			fmt.Printf("PTQ %s (calibrated on %d images): %.2f%%\n", scheme, r.CalibrationSamples, 100*ptq)
			if c.epochs == 0 {
				return nil
			}
			fmt.Printf("QAT %s: %d train images, %d epochs, batch %d, lr %g, BN frozen after step %d of %d, %d threads%s\n",
				scheme, train.Len(), c.epochs, c.batch, c.lr, r.FreezeBNAfter, r.Steps, threads.N(), c.kd.note(c.in))
			if resuming != "" {
				fmt.Println(resuming)
			}
			return nil
		},
	}
	if c.kd.active() {
		r, err := quantize.FineTuneDistill(ctx, fm, x, y, opts, c.kd.distillation())
		return r, ptq, err
	}
	r, err := quantize.FineTune(ctx, fm, x, y, opts)
	return r, ptq, err
}
