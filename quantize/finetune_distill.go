package quantize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// FineTuneDistill is FineTune with the fine-tuning's loss replaced by the
// distillation loss d (docs/DESIGN.md, QAT: distillation): it quantizes
// float with opts.Scheme, calibrates on the first opts.Calibrate samples of
// x, calls opts.OnCalibrated, then trains the QAT student with Distill for
// opts.Epochs (Adam from opts.LearningRate along the same cosine decay,
// folded batch normalization frozen from step opts.FreezeBNAfter), opts.Loss
// as the label loss. d.Teacher nil selects float itself, the usual teacher:
// the student learns to match the model it was quantized from. The result
// is as FineTune's, its History from Distill, except that the Model is not
// left compiled. The same options and data
// give bit-identical weights for any thread count. Checkpoints (Checkpoint,
// Resume) and DataParallel are not supported with distillation.
func FineTuneDistill(ctx context.Context, float *nn.Model, x, y *tensor.Tensor, opts FineTuneOptions, d Distillation) (*FineTuneResult, error) {
	if float == nil || x == nil || y == nil || len(x.Shape) == 0 {
		return nil, errors.New("quantize: FineTuneDistill needs a float model, samples and labels")
	}
	switch {
	case opts.Checkpoint != nil || opts.Resume != "":
		return nil, errors.New("quantize: FineTuneDistill does not support checkpoints (Checkpoint, Resume) yet")
	case opts.DataParallel != nil:
		return nil, errors.New("quantize: FineTuneDistill does not support DataParallel yet")
	case opts.Epochs < 0:
		return nil, fmt.Errorf("quantize: FineTuneDistill: Epochs must not be negative, got %d", opts.Epochs)
	case opts.BatchSize < 0:
		return nil, fmt.Errorf("quantize: FineTuneDistill: BatchSize must not be negative, got %d", opts.BatchSize)
	}
	if d.Teacher == nil {
		d.Teacher = float
	}
	d, err := d.resolved()
	if err != nil {
		return nil, err
	}
	o := opts
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.LearningRate == 0 {
		o.LearningRate = DefaultFineTuneLR
	}
	n := x.Shape[0]
	if o.Batches != nil {
		n = o.Batches.Len()
	}
	steps := o.Epochs * ((n + o.BatchSize - 1) / o.BatchSize)
	if o.FreezeBNAfter < 0 {
		o.FreezeBNAfter = steps / 2
	}
	// FineTune quantizes and calibrates (no epochs: it stops there); the
	// steps it reports are those of the distillation to come.
	pre := o
	pre.Epochs = 0
	pre.OnCalibrated = func(r *FineTuneResult) error {
		r.Steps = steps
		if o.OnCalibrated != nil {
			return o.OnCalibrated(r)
		}
		return nil
	}
	r, err := FineTune(ctx, float, x, y, pre)
	if err != nil {
		return nil, err
	}
	r.Steps = steps
	if o.Epochs == 0 {
		return r, nil
	}
	opt := optim.NewAdam(o.LearningRate)
	opt.LR = optim.Cosine{Base: o.LearningRate, Steps: steps, Min: o.LearningRate / 50}
	start := time.Now()
	r.History, err = Distill(ctx, r.Model, x, y, DistillOptions{
		Distillation: d, Loss: o.Loss, Optimizer: opt,
		Epochs: o.Epochs, BatchSize: o.BatchSize, Seed: o.Seed,
		Verbose: o.Verbose, Progress: o.Progress,
		ValidationX: o.ValidationX, ValidationY: o.ValidationY,
		ClipNorm: o.ClipNorm, Batches: o.Batches,
	})
	if err != nil {
		return nil, err
	}
	r.TrainSeconds = time.Since(start).Seconds()
	return r, nil
}
