package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// FreezeBNHalfway, as FineTuneOptions.FreezeBNAfter, freezes folded batch
// normalization after half of the fine-tuning steps.
const FreezeBNHalfway = -1

// DefaultFineTuneLR is the peak learning rate FineTune uses when
// FineTuneOptions.LearningRate is zero: a tenth of a typical float
// training rate, as fine-tuning starts from trained weights.
const DefaultFineTuneLR = 2e-4

// FineTuneOptions configures FineTune. Apart from FreezeBNAfter (whose zero
// value freezes batch normalization from the first step; FreezeBNHalfway
// is goqat's default), the zero value of each field selects its default.
type FineTuneOptions struct {
	// Scheme quantizes every layer (the zero value: Default8Bit).
	Scheme NBit
	// ModelOptions are further options of Model (e.g. WithLayerScheme),
	// applied after the scheme and the BN-freeze step.
	ModelOptions []Option
	// Calibrate is the number of leading training samples whose ranges set
	// the quantizers before fine-tuning (Calibrate); 0: no calibration.
	Calibrate int
	// Epochs is the number of fine-tuning passes over the training data;
	// 0 stops after calibration and returns the post-training-quantization
	// (PTQ) model.
	Epochs int
	// BatchSize is the batch size of calibration and fine-tuning (default
	// 32, as nn.FitOptions).
	BatchSize int
	// LearningRate is the peak rate of Adam, decayed along a cosine to a
	// fiftieth of it over all the steps (default DefaultFineTuneLR).
	LearningRate float64
	// FreezeBNAfter is the optimizer step from which folded Conv+BN layers
	// use their moving statistics instead of the batch's (WithFreezeBNAfter);
	// negative (FreezeBNHalfway): half of the fine-tuning steps.
	FreezeBNAfter int
	// Loss is the objective (default SparseCategoricalCrossentropy with
	// logits, for class scores and class-index labels).
	Loss nn.Loss
	// Seed seeds shuffling and dropout (nn.FitOptions.Seed).
	Seed uint64
	// Verbose and Progress select the fine-tuning's output, as in
	// nn.FitOptions: 0 or nn.VerboseBar a progress bar, nn.VerboseEpoch one
	// line per epoch, nn.VerboseSilent nothing; on Progress (default
	// standard output).
	Verbose  int
	Progress io.Writer
	// ValidationX and ValidationY, if set, are evaluated after each epoch
	// (fake-quant, inference mode) into the History.
	ValidationX, ValidationY *tensor.Tensor
	// ClipNorm, Checkpoint and Resume are passed to nn.FitOptions: gradient
	// clipping, checkpoints during fine-tuning, and the checkpoint to
	// continue from. A resumed run must use the same options and data as
	// the interrupted one; quantization and calibration are deterministic,
	// so they give the model the checkpoint was taken of.
	ClipNorm   float64
	Checkpoint *nn.CheckpointOptions
	Resume     string
	// OnCalibrated, if set, is called once the model is quantized and
	// calibrated, before fine-tuning, with the result so far (Model, Steps,
	// FreezeBNAfter, CalibrationSamples and CalibrationSeconds set): the
	// place to measure the PTQ accuracy (convert.Accuracy) or to report the
	// plan. It must not train the model; an error stops FineTune, which
	// returns it.
	OnCalibrated func(r *FineTuneResult) error
	// Batches, if set, supplies the fine-tuning's batches
	// (nn.FitOptions.Batches, e.g. a loader that augments); x then only
	// needs to hold the calibration samples and y is not used.
	Batches nn.Batches
	// DataParallel, if set, makes the fine-tuning one rank of a
	// data-parallel job (nn.FitOptions.DataParallel); calibration runs on
	// every rank on the same samples.
	DataParallel nn.DataParallel
}

// FineTuneResult is what FineTune made and measured.
type FineTuneResult struct {
	// Model is the QAT model: quantized, calibrated and fine-tuned. It
	// stays compiled with the fine-tuning's loss and optimizer (after
	// fine-tuning; not compiled with 0 epochs).
	Model *nn.Model
	// History holds the fine-tuning's per-epoch metrics (loss and accuracy;
	// nil with 0 epochs).
	History *nn.History
	// Steps is the number of optimizer steps of the whole fine-tuning,
	// Epochs × batches per epoch: the length of the learning-rate decay.
	Steps int
	// FreezeBNAfter is the step from which folded batch normalization uses
	// its moving statistics.
	FreezeBNAfter int
	// CalibrationSamples is the number of samples calibration used.
	CalibrationSamples int
	// CalibrationSeconds and TrainSeconds are the wall times of
	// calibration and of the fine-tuning (the Fit call).
	CalibrationSeconds, TrainSeconds float64
}

// FineTune is goqat's QAT recipe: it quantizes the float model with
// opts.Scheme (Model; float is left untouched), calibrates the ranges on
// the first opts.Calibrate samples of x (N, input shape...), calls
// opts.OnCalibrated, then fine-tunes on x with labels y (N) for
// opts.Epochs with Adam and a cosine learning-rate decay, folded batch
// normalization frozen from step opts.FreezeBNAfter. The same options and
// data give a bit-identical model. Cancelling ctx stops calibration or
// fine-tuning (with opts.Checkpoint, Fit saves a checkpoint first) and
// FineTune returns the context's error.
func FineTune(ctx context.Context, float *nn.Model, x, y *tensor.Tensor, opts FineTuneOptions) (*FineTuneResult, error) {
	if float == nil || x == nil || y == nil || len(x.Shape) == 0 {
		return nil, errors.New("quantize: FineTune needs a float model, samples and labels")
	}
	o := opts
	switch {
	case o.Epochs < 0:
		return nil, fmt.Errorf("quantize: FineTune: Epochs must not be negative, got %d", o.Epochs)
	case o.BatchSize < 0:
		return nil, fmt.Errorf("quantize: FineTune: BatchSize must not be negative, got %d", o.BatchSize)
	case !(o.LearningRate >= 0):
		return nil, fmt.Errorf("quantize: FineTune: LearningRate must not be negative, got %g", o.LearningRate)
	case o.Calibrate < 0:
		return nil, fmt.Errorf("quantize: FineTune: Calibrate must not be negative, got %d", o.Calibrate)
	}
	if o.Scheme == (NBit{}) {
		o.Scheme = Default8Bit
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.LearningRate == 0 {
		o.LearningRate = DefaultFineTuneLR
	}
	if o.Loss == nil {
		o.Loss = nn.SparseCategoricalCrossentropy{FromLogits: true}
	}
	n := x.Shape[0]
	if o.Batches != nil {
		n = o.Batches.Len()
	}
	r := &FineTuneResult{Steps: o.Epochs * ((n + o.BatchSize - 1) / o.BatchSize), FreezeBNAfter: o.FreezeBNAfter}
	if r.FreezeBNAfter < 0 {
		r.FreezeBNAfter = r.Steps / 2
	}
	mopts := append([]Option{WithScheme(o.Scheme), WithFreezeBNAfter(r.FreezeBNAfter)}, o.ModelOptions...)
	qm, err := Model(float, mopts...)
	if err != nil {
		return nil, err
	}
	r.Model = qm
	start := time.Now()
	if r.CalibrationSamples = min(o.Calibrate, x.Shape[0]); r.CalibrationSamples > 0 {
		if err := Calibrate(ctx, qm, x.Batch(0, r.CalibrationSamples), o.BatchSize); err != nil {
			return nil, err
		}
	}
	r.CalibrationSeconds = time.Since(start).Seconds()
	if o.OnCalibrated != nil {
		if err := o.OnCalibrated(r); err != nil {
			return nil, err
		}
	}
	if o.Epochs == 0 {
		return r, nil
	}
	opt := optim.NewAdam(o.LearningRate)
	opt.LR = optim.Cosine{Base: o.LearningRate, Steps: r.Steps, Min: o.LearningRate / 50}
	if err := qm.Compile(nn.CompileOptions{Loss: o.Loss, Optimizer: opt, Metrics: []string{"accuracy"}}); err != nil {
		return nil, err
	}
	fo := nn.FitOptions{
		BatchSize: o.BatchSize, Epochs: o.Epochs, Seed: o.Seed,
		Verbose: o.Verbose, Progress: o.Progress,
		ValidationX: o.ValidationX, ValidationY: o.ValidationY,
		ClipNorm: o.ClipNorm, Checkpoint: o.Checkpoint, Resume: o.Resume,
		Batches: o.Batches, DataParallel: o.DataParallel,
	}
	start = time.Now()
	if r.History, err = qm.Fit(ctx, x, y, fo); err != nil {
		return nil, err
	}
	r.TrainSeconds = time.Since(start).Seconds()
	return r, nil
}
