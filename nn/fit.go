package nn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/goqat/goqat/tensor"
)

// Optimizer updates trainable parameters from their gradients.
type Optimizer interface {
	Step(params []*Param)
}

// CompileOptions configures training.
type CompileOptions struct {
	// Loss is the objective, e.g. SparseCategoricalCrossentropy{FromLogits:
	// true} or MeanSquaredError{}.
	Loss Loss
	// Optimizer updates the weights, e.g. optim.NewAdam(1e-3). It may be nil
	// for a model that is only evaluated; Fit then returns an error.
	Optimizer Optimizer
	// Metrics lists extra metrics: "accuracy" (for sparse class labels).
	// In a model with several outputs they apply to every output.
	Metrics []string
	// Losses sets the loss of individual outputs of a model with several
	// outputs (Keras's loss={"a": ..., "b": ...}), keyed by output name
	// (Model.OutputNames) or, when no output has that name, by the output's
	// index ("0", "1", ...). Outputs not listed use Loss.
	Losses map[string]Loss
	// LossWeights weights the outputs' losses, keyed as Losses (absent
	// outputs weigh 1): Fit minimises sum_i w_i * loss_i. A weight must be
	// finite and >= 0; an output of weight 0 sends no gradient back.
	LossWeights map[string]float64
	// OutputMetrics adds metrics to individual outputs, keyed as Losses
	// (Keras's metrics={"a": ["accuracy"]}).
	OutputMetrics map[string][]string
}

// Verbosity levels of FitOptions.Verbose and EvaluateOptions.Verbose. The
// zero value is the default, a progress bar.
const (
	VerboseSilent = -1 // print nothing
	VerboseBar    = 1  // a progress bar (live on a terminal)
	VerboseEpoch  = 2  // one line per epoch
)

// FitOptions configures Fit. The zero value trains one epoch in batches of
// 32, shuffled with seed 0, with a progress bar on standard output.
type FitOptions struct {
	// BatchSize is the number of samples per step (default 32). The last
	// batch of an epoch holds the remaining samples.
	BatchSize int
	// Epochs is the number of passes over the data (default 1).
	Epochs int
	// NoShuffle keeps the samples in order; by default they are shuffled
	// before every epoch.
	NoShuffle bool
	// Seed seeds shuffling and dropout: the same seed and the same initial
	// weights give a bit-identical run. Each Fit call starts its random
	// sources afresh from Seed: epoch e is shuffled from (Seed, e) and step
	// s draws its dropout masks from (Seed, s).
	Seed uint64
	// ValidationX and ValidationY, if set, are evaluated after each epoch.
	ValidationX, ValidationY *tensor.Tensor
	// ValidationInputs and ValidationTargets are the validation data of a
	// model with several inputs or outputs (FitMulti): one tensor per
	// input and one per output. Set them or ValidationX and ValidationY,
	// not both.
	ValidationInputs, ValidationTargets []*tensor.Tensor
	// Verbose selects the output: 0 or VerboseBar a progress bar,
	// VerboseEpoch one line per epoch, VerboseSilent (or any other value)
	// nothing.
	Verbose int
	// Progress receives the output (default os.Stdout).
	Progress io.Writer
	// OnBatchEnd, if set, is called after every step with the batch index
	// within the epoch (from 0) and the batch's loss.
	OnBatchEnd func(batch int, loss float64)
	// OnEpochEnd, if set, is called after every epoch (from 0) with its
	// logs ("loss", "accuracy", "val_loss", "val_accuracy"); returning an
	// error stops training and Fit returns it.
	OnEpochEnd func(epoch int, logs map[string]float64) error
	// ClipNorm, if positive, scales the gradients of each step so that
	// their global L2 norm (over all trainable parameters) is at most
	// ClipNorm.
	ClipNorm float64
	// Checkpoint, if set, saves checkpoints during training (see
	// CheckpointOptions); the optimizer must be a StatefulOptimizer.
	Checkpoint *CheckpointOptions
	// Resume, if set, is the path of a checkpoint written by a Fit of the
	// same model (same layers and parameters) on the same data, with the
	// same BatchSize, Seed and NoShuffle: Fit restores the weights, the
	// state, the optimizer and the model's step counter from it and
	// continues where it stopped, and the History it returns includes the
	// epochs completed before. The optimizer (and its learning-rate
	// schedule) must be configured as in the interrupted run.
	Resume string
	// Callbacks are called at the start of training, after every epoch
	// and at the end (see Callback): EarlyStopping, ModelCheckpoint,
	// ReduceLROnPlateau, CSVLogger or the caller's own.
	Callbacks []Callback
	// ClassWeight, if set, weights each training sample's loss by the
	// weight of its class label (absent classes weigh 1), as Keras's
	// class_weight; the loss must be SparseCategoricalCrossentropy. See
	// SampleWeight for how weights enter the loss.
	ClassWeight map[int]float64
	// SampleWeight, if set, holds one weight per training sample (N) or
	// (N, 1), as Keras's sample_weight: a batch's loss is
	// sum_i w_i * loss_i / batch size (the per-sample losses scaled, the
	// mean over the batch's samples, not over the weights), and with
	// ClassWeight too w_i is the product of both. The logged training
	// loss is that weighted loss; accuracy and the validation metrics are
	// unweighted. It needs in-memory samples (not Batches). The loss must
	// be a mean over samples of per-sample losses, as nn's losses are
	// (MeanSquaredError's per-sample loss is the mean over the sample's
	// values, as in Keras). The weights are not in Fit's checkpoints: a
	// resumed Fit must be given the same ClassWeight and SampleWeight.
	SampleWeight *tensor.Tensor
	// Batches, if set, supplies the training batches (e.g. a loader that
	// streams and augments images); Fit's x and y are then not used and
	// may be nil. The order, the dropout and the checkpoints are as for
	// in-memory samples.
	Batches Batches
	// DataParallel, if set, makes this Fit one rank of a data-parallel job
	// (nn/dataparallel.go); it does not support Batches.
	DataParallel DataParallel
}

// History records Fit's metrics, one entry per epoch. Accuracy and the
// validation slices are empty when not computed; for a model with several
// outputs Loss and ValLoss hold the total loss, Accuracy and ValAccuracy
// are empty, and Metrics holds every output's values.
type History struct {
	// Epoch holds the epoch indices, from 0.
	Epoch []int
	// Loss is the mean training loss of each epoch (in training mode, as
	// the weights changed during the epoch).
	Loss []float64
	// Accuracy is the training accuracy, with the "accuracy" metric.
	Accuracy []float64
	// ValLoss is the loss on the validation data after each epoch.
	ValLoss []float64
	// ValAccuracy is the validation accuracy, with the "accuracy" metric.
	ValAccuracy []float64
	// EpochSeconds is the wall time of each epoch's training steps.
	EpochSeconds []float64
	// Metrics holds every value logged at the epoch ends by name, one
	// entry per epoch (Keras's history.history): "loss", "accuracy",
	// "val_loss", ... and, for a model with several outputs, each output's
	// "<output>_loss", "<output>_accuracy" and their "val_" forms.
	Metrics map[string][]float64
}

// EvaluateOptions configures Evaluate.
type EvaluateOptions struct {
	// BatchSize is the number of samples per forward pass (default 32).
	BatchSize int
	// Verbose is 0 or VerboseBar for a progress bar, VerboseSilent for
	// nothing.
	Verbose int
	// Progress receives the output (default os.Stdout).
	Progress io.Writer
}

// trainState is what Compile configures and the buffers Fit, Evaluate and
// Predict reuse.
type trainState struct {
	compiled bool
	loss     Loss // output 0's loss (heads[0].loss)
	opt      Optimizer
	accuracy bool           // output 0's accuracy metric
	heads    []head         // one per model output (outputs.go)
	xb, yb   *tensor.Tensor // batch copies of the samples (data-parallel steps)
	grad     *tensor.Tensor // dL/dpred (data-parallel steps)
	xbs, ybs []*tensor.Tensor
	grads    []*tensor.Tensor // per input, per output: batch copies and dL/dpred
	perm     []int
	shape    []int     // scratch for batch shapes
	weights  []float64 // a batch's sample weights (FitOptions.SampleWeight, ClassWeight)

	dpStart, dpFirst stateCopy // data-parallel state copies (dataparallel.go)
	dpLanes          []*Model  // lane copies of the model, synchronized BatchNorm (syncbn.go)
}

// Seed streams of Fit's random sources.
const (
	streamShuffle = 0x5348_5546 // "SHUF"
	streamDropout = 0x4452_4f50 // "DROP"
)

// Compile sets the loss, the optimizer and the metrics used by Fit and
// Evaluate; for a model with several outputs, also each output's loss,
// loss weight and metrics (FitMulti; docs/DESIGN.md, Several inputs and
// outputs).
func (m *Model) Compile(o CompileOptions) error {
	heads, err := m.compileHeads(o)
	if err != nil {
		return err
	}
	m.train.compiled = true
	m.train.heads = heads
	m.train.loss, m.train.opt, m.train.accuracy = heads[0].loss, o.Optimizer, heads[0].accuracy
	return nil
}

func isSparseCE(l Loss) bool {
	switch l.(type) {
	case SparseCategoricalCrossentropy, *SparseCategoricalCrossentropy:
		return true
	}
	return false
}

// checkBatch checks a batch from FitOptions.Batches: b samples of the
// model's input shape and b targets the loss accepts.
func (m *Model) checkBatch(x, y *tensor.Tensor, b int) error {
	if x == nil || y == nil {
		return fmt.Errorf("the batch source returned no batch")
	}
	if want := m.inputs[0].shape; len(x.Shape) != len(want)+1 || x.Shape[0] != b || !x.Shape[1:].Equal(want) || len(x.Data) != x.Shape.Size() {
		return fmt.Errorf("batch of shape %s, want %d samples of %s", x.Shape, b, withN(want))
	}
	if len(y.Shape) == 0 || y.Shape[0] != b || len(y.Data) != y.Shape.Size() {
		return fmt.Errorf("batch targets of shape %s, want %d", y.Shape, b)
	}
	if tc, ok := m.train.loss.(TargetChecker); ok {
		if err := tc.CheckTargets(m.outputs[0].shape, y); err != nil {
			return fmt.Errorf("batch targets: %w", err)
		}
	}
	return nil
}

// checkSingle reports an error unless the model is compiled and has one
// input and one output.
func (m *Model) checkSingle(op string) error {
	if !m.train.compiled {
		return fmt.Errorf("nn: %s: the model is not compiled (call Compile first)", op)
	}
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return fmt.Errorf("nn: %s supports models with one input and one output; %q has %d and %d (use %sMulti)", op, m.name, len(m.inputs), len(m.outputs), op)
	}
	return nil
}

// Fit trains a compiled model with one input and one output on samples x
// (N, input shape...) and targets y (N, ...) for o.Epochs epochs, and
// returns the per-epoch metrics. Each step copies a (shuffled) batch into
// reused buffers, runs Forward and Backward in training mode, checks the
// loss and the gradients for NaN and infinity (a *NonFiniteError stops Fit
// before the update), clips the gradients if o.ClipNorm is set, and calls
// the optimizer; Context.Step counts steps over all Fit calls. The context
// is checked before every step: on cancellation Fit saves a checkpoint (if
// o.Checkpoint is set) and returns the History of the finished epochs and
// an error wrapping ctx.Err().
//
// Epoch e's order is a shuffle seeded by (o.Seed, e) and step s's dropout
// source is seeded by (o.Seed, s), so a run resumed from a checkpoint
// (o.Resume) ends with the same weights, bit for bit, as an uninterrupted
// one. FitMulti trains models with several inputs or outputs.
func (m *Model) Fit(ctx context.Context, x, y *tensor.Tensor, o FitOptions) (*History, error) {
	if err := m.checkSingle("Fit"); err != nil {
		return nil, err
	}
	return m.fit(ctx, "Fit", []*tensor.Tensor{x}, []*tensor.Tensor{y}, o)
}

// fit is Fit and FitMulti on a compiled model: xs holds one tensor per
// input, ys one per output. With one input and one output it runs the
// arithmetic Fit always ran (a loss weight of 1 multiplies nothing).
func (m *Model) fit(ctx context.Context, op string, xs, ys []*tensor.Tensor, o FitOptions) (*History, error) {
	if m.train.opt == nil {
		return nil, fmt.Errorf("nn: %s: the model was compiled without an optimizer", op)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.BatchSize < 0 || o.Epochs < 0 {
		return nil, fmt.Errorf("nn: %s: batch size %d and epochs %d must be positive", op, o.BatchSize, o.Epochs)
	}
	if !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) {
		return nil, fmt.Errorf("nn: %s: ClipNorm %v must be a finite number >= 0", op, o.ClipNorm)
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	ts := &m.train
	single := len(m.inputs) == 1 && len(m.outputs) == 1
	multiOut := len(m.outputs) > 1
	if err := ts.checkHeadNames(); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op, err)
	}
	if !single {
		// The features built on one input and one output (docs/DESIGN.md,
		// Several inputs and outputs).
		switch {
		case o.Batches != nil:
			return nil, fmt.Errorf("nn: %s: a batch source (Batches) needs a model with one input and one output; pass the tensors", op)
		case o.DataParallel != nil:
			return nil, fmt.Errorf("nn: %s: DataParallel needs a model with one input and one output", op)
		case multiOut && (o.Checkpoint != nil || o.Resume != ""):
			return nil, fmt.Errorf("nn: %s: checkpoints (Checkpoint, Resume) need a model with one output", op)
		case multiOut && o.ClassWeight != nil:
			return nil, fmt.Errorf("nn: %s: ClassWeight needs a model with one output (use SampleWeight)", op)
		}
	}
	if o.DataParallel != nil && o.Batches != nil {
		return nil, fmt.Errorf("nn: %s: DataParallel does not support a batch source (Batches) yet", op)
	}
	if o.DataParallel != nil && (o.ClassWeight != nil || o.SampleWeight != nil) {
		return nil, fmt.Errorf("nn: %s: DataParallel does not support class or sample weights yet", op)
	}
	if o.DataParallel != nil && ts.heads[0].weight != 1 {
		return nil, fmt.Errorf("nn: %s: DataParallel does not support loss weights yet", op)
	}
	vx, vy := o.ValidationInputs, o.ValidationTargets
	if o.ValidationX != nil || o.ValidationY != nil {
		if vx != nil || vy != nil {
			return nil, fmt.Errorf("nn: %s: set ValidationX and ValidationY or ValidationInputs and ValidationTargets, not both", op)
		}
		vx, vy = []*tensor.Tensor{o.ValidationX}, []*tensor.Tensor{o.ValidationY}
	} else if single && len(vx) == 1 && len(vy) == 1 {
		// The single-output form, which the checkpoints record.
		o.ValidationX, o.ValidationY = vx[0], vy[0]
	}
	n := 0
	if o.Batches != nil {
		if n = o.Batches.Len(); n < 1 {
			return nil, fmt.Errorf("nn: %s: the batch source holds no samples", op)
		}
		defer o.Batches.Stop()
	} else {
		var err error
		if n, err = m.checkSamples(xs, ys, "x", "y"); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
	}
	hasVal := vx != nil || vy != nil
	if hasVal {
		if _, err := m.checkSamples(vx, vy, "validation x", "validation y"); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
	}

	weighted, err := m.checkWeights(&o, n)
	if err != nil {
		return nil, err
	}

	bs := min(o.BatchSize, n)
	steps := (n + bs - 1) / bs
	if cap(ts.perm) < n {
		ts.perm = make([]int, n)
	}
	perm := ts.perm[:n]
	ts.xbs = slices.Grow(ts.xbs[:0], len(m.inputs))[:len(m.inputs)]
	ts.ybs = slices.Grow(ts.ybs[:0], len(m.outputs))[:len(m.outputs)]
	ts.grads = slices.Grow(ts.grads[:0], len(m.outputs))[:len(m.outputs)]
	xin := make([]*tensor.Tensor, len(m.inputs))  // a batch's inputs
	yin := make([]*tensor.Tensor, len(m.outputs)) // a batch's targets
	sums := make([]headSum, len(m.outputs))       // the epoch's sums per output (several outputs)
	m.params = m.collectParams()
	params := m.params
	keys := m.paramKeys()
	var ck *checkpointer
	if o.Checkpoint != nil {
		var err error
		if ck, err = newCheckpointer(o.Checkpoint, ts.opt, o, n, params, keys); err != nil {
			return nil, err
		}
	}
	h := &History{Metrics: map[string][]float64{}}
	var pos fitPos
	if o.Resume != "" {
		var err error
		if pos, h, err = m.restore(o.Resume, ts.opt, o, n, bs, steps, params, keys); err != nil {
			return nil, err
		}
		h.Metrics = resumedMetrics(h)
	}
	var tr *Training
	if len(o.Callbacks) > 0 {
		tr = &Training{Model: m, Optimizer: ts.opt, Epochs: o.Epochs, Metrics: ts.logNames(hasVal)}
		for i, cb := range o.Callbacks {
			if cb == nil {
				return h, fmt.Errorf("nn: %s: callback %d is nil", op, i)
			}
			if err := cb.TrainBegin(tr); err != nil {
				return h, err
			}
		}
	}
	var shufSrc, dropSrc rand.PCG
	shuffle := rand.New(&shufSrc)
	c := &Context{Training: true, Rand: rand.New(&dropSrc)}
	vals := make([]KV, 0, 4)
	swap := func(i, j int) { perm[i], perm[j] = perm[j], perm[i] }
	// stop saves a checkpoint at the current position, if enabled, and
	// returns err (joined with a failure to save).
	stop := func(err error) (*History, error) {
		if ck != nil {
			if serr := ck.save(m, pos, h); serr != nil {
				return h, errors.Join(err, serr)
			}
		}
		return h, err
	}

	for pos.epoch < o.Epochs {
		epoch := pos.epoch
		clear(sums)
		for i := range perm {
			perm[i] = i
		}
		if !o.NoShuffle {
			shufSrc.Seed(o.Seed, mix(streamShuffle, uint64(epoch)))
			shuffle.Shuffle(n, swap)
		}
		if o.Batches != nil {
			if err := o.Batches.StartEpoch(ctx, epoch, perm, bs, pos.batch); err != nil {
				return h, fmt.Errorf("nn: %s: %w", op, err)
			}
		}
		var bar *ProgressBar
		if o.Verbose == 0 || o.Verbose == VerboseBar {
			fmt.Fprintf(o.Progress, "Epoch %d/%d\n", epoch+1, o.Epochs)
			bar = NewProgressBar(o.Progress, steps)
		}
		start, before := time.Now(), pos.seconds
		elapsed := func() float64 { return before + time.Since(start).Seconds() }
		for s := pos.batch; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				pos.batch, pos.fitStep = s, epoch*steps+s
				pos.seconds = elapsed()
				return stop(fmt.Errorf("nn: %s stopped in epoch %d at step %d/%d: %w", op, epoch+1, s, steps, err))
			}
			idx := perm[s*bs : min(n, (s+1)*bs)]
			if o.Batches != nil {
				xb, yb, err := o.Batches.Next()
				if err != nil {
					if ctx.Err() != nil {
						pos.batch, pos.fitStep = s, epoch*steps+s
						pos.seconds = elapsed()
						return stop(fmt.Errorf("nn: %s stopped in epoch %d at step %d/%d: %w", op, epoch+1, s, steps, ctx.Err()))
					}
					return h, fmt.Errorf("nn: %s: epoch %d, step %d: %w", op, epoch+1, s+1, err)
				}
				if err := m.checkBatch(xb, yb, len(idx)); err != nil {
					return h, fmt.Errorf("nn: %s: epoch %d, step %d: %w", op, epoch+1, s+1, err)
				}
				xin[0], yin[0] = xb, yb
			} else if o.DataParallel == nil {
				for i, x := range xs {
					xin[i] = gather(&ts.xbs[i], &ts.shape, x, idx)
				}
				for i, y := range ys {
					yin[i] = gather(&ts.ybs[i], &ts.shape, y, idx)
				}
			}
			c.Step = m.stepCount
			dropSrc.Seed(o.Seed, mix(streamDropout, uint64(epoch*steps+s)))
			var loss float64
			if o.DataParallel != nil {
				var err error
				if loss, err = m.dataParallelStep(c, o.DataParallel, o.Seed, epoch*steps+s, xs[0], ys[0], idx, params, &pos.correct); err != nil {
					return h, fmt.Errorf("nn: %s: epoch %d, step %d: %w", op, epoch+1, s+1, err)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					return h, &NonFiniteError{Step: m.stepCount, Epoch: epoch + 1, Batch: s + 1, What: "loss", Value: loss}
				}
			} else {
				outs, err := m.Forward(c, xin...)
				if err != nil {
					return h, fmt.Errorf("nn: %s: %w", op, err)
				}
				var w []float64
				if weighted {
					w = m.batchWeights(&o, yin[0], idx)
				}
				for i, hd := range ts.heads {
					pred, yb := outs[i], yin[i]
					grad := tensor.Ensure(&ts.grads[i], pred.Shape...)
					var li float64
					if weighted {
						li = weightedLoss(hd.loss, pred, yb, w, grad)
					} else {
						li = hd.loss.Compute(pred, yb, grad)
					}
					loss += hd.weightGrad(li, grad)
					if multiOut {
						sums[i].loss += li * float64(len(idx))
						if hd.accuracy {
							sums[i].correct += countCorrect(pred, yb)
						}
					} else if hd.accuracy {
						pos.correct += countCorrect(pred, yb)
					}
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					return h, &NonFiniteError{Step: m.stepCount, Epoch: epoch + 1, Batch: s + 1, What: "loss", Value: loss}
				}
				if err := m.Backward(c, ts.grads...); err != nil {
					return h, fmt.Errorf("nn: %s: %w", op, err)
				}
			}
			if err := guardGrads(params, keys, o.ClipNorm); err != nil {
				err.Step, err.Epoch, err.Batch = m.stepCount, epoch+1, s+1
				return h, err
			}
			ts.opt.Step(params)
			m.stepCount++
			pos.lossSum += loss * float64(len(idx))
			pos.seen += len(idx)
			if o.OnBatchEnd != nil {
				o.OnBatchEnd(s, loss)
			}
			if bar != nil {
				vals = ts.logValues(vals[:0], "", pos.lossSum/float64(pos.seen), sums, pos.correct, pos.seen)
				bar.Update(s+1, vals...)
			}
			if ck != nil && ck.o.EveryNSteps > 0 && (epoch*steps+s+1)%ck.o.EveryNSteps == 0 && s+1 < steps {
				pos.batch, pos.fitStep = s+1, epoch*steps+s+1
				pos.seconds = elapsed()
				if err := ck.save(m, pos, h); err != nil {
					return h, err
				}
			}
		}
		pos.batch, pos.fitStep = steps, (epoch+1)*steps
		pos.seconds = elapsed()
		if o.Batches != nil {
			o.Batches.Stop()
		}
		vals = ts.logValues(vals[:0], "", pos.lossSum/float64(n), sums, pos.correct, n)
		if hasVal {
			ev, err := m.evaluate(ctx, vx, vy, o.BatchSize, nil)
			if err != nil {
				err = fmt.Errorf("nn: %s: validation: %w", op, err)
				if ctx.Err() != nil {
					return stop(err)
				}
				return h, err
			}
			vals = ts.logValues(vals, "val_", ev.loss, ev.sums, ev.sums[0].correct, ev.n)
		}
		logs := make(map[string]float64, len(vals))
		for _, kv := range vals {
			logs[kv.Key] = kv.Value
			h.Metrics[kv.Key] = append(h.Metrics[kv.Key], kv.Value)
		}
		h.Epoch = append(h.Epoch, epoch)
		h.Loss = append(h.Loss, logs["loss"])
		if ts.accuracy && !multiOut {
			h.Accuracy = append(h.Accuracy, logs["accuracy"])
		}
		if hasVal {
			h.ValLoss = append(h.ValLoss, logs["val_loss"])
			if ts.accuracy && !multiOut {
				h.ValAccuracy = append(h.ValAccuracy, logs["val_accuracy"])
			}
		}
		h.EpochSeconds = append(h.EpochSeconds, pos.seconds)
		switch {
		case bar != nil:
			bar.Update(steps, vals...)
			bar.Done()
		case o.Verbose == VerboseEpoch:
			fmt.Fprintf(o.Progress, "Epoch %d/%d - %s%s\n", epoch+1, o.Epochs, formatTiming(time.Duration(pos.seconds*float64(time.Second)), steps), formatValues(vals))
		}
		pos = fitPos{epoch: epoch + 1, fitStep: (epoch + 1) * steps}
		if ck != nil {
			if err := ck.save(m, pos, h); err != nil {
				return h, err
			}
		}
		if o.OnEpochEnd != nil {
			if err := o.OnEpochEnd(epoch, logs); err != nil {
				return h, err
			}
		}
		if tr != nil {
			for _, cb := range o.Callbacks {
				if err := cb.EpochEnd(tr, epoch, logs); err != nil {
					return h, err
				}
			}
			if tr.StopTraining {
				break
			}
		}
	}
	if tr != nil {
		var errs []error
		for _, cb := range o.Callbacks {
			errs = append(errs, cb.TrainEnd(tr))
		}
		if err := errors.Join(errs...); err != nil {
			return h, err
		}
	}
	return h, nil
}

// resumedMetrics rebuilds History.Metrics of the epochs a checkpoint
// recorded (a model with one output).
func resumedMetrics(h *History) map[string][]float64 {
	ms := map[string][]float64{}
	for _, e := range []struct {
		name string
		v    []float64
	}{{"loss", h.Loss}, {"accuracy", h.Accuracy}, {"val_loss", h.ValLoss}, {"val_accuracy", h.ValAccuracy}} {
		if len(e.v) > 0 {
			ms[e.name] = append([]float64(nil), e.v...)
		}
	}
	return ms
}

// mix derives a PCG seed from a stream tag and an index (SplitMix64's
// finaliser), so that nearby indices give unrelated sequences.
func mix(stream, i uint64) uint64 {
	z := stream<<32 ^ i
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// guardGrads checks the gradients of the trainable params in one pass (the
// sum of their squares is finite exactly when they all are) and, if
// clipNorm > 0, scales them so that their global L2 norm is at most
// clipNorm. It returns the first non-finite gradient, if any.
func guardGrads(params []*Param, keys []string, clipNorm float64) *NonFiniteError {
	var s0, s1, s2, s3 float64
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		g := p.Grad.Data
		i := 0
		for ; i+4 <= len(g); i += 4 {
			a, b, c, d := float64(g[i]), float64(g[i+1]), float64(g[i+2]), float64(g[i+3])
			s0 += a * a
			s1 += b * b
			s2 += c * c
			s3 += d * d
		}
		for ; i < len(g); i++ {
			a := float64(g[i])
			s0 += a * a
		}
	}
	sum := (s0 + s1) + (s2 + s3)
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		for k, p := range params {
			if !p.Trainable || p.Grad == nil {
				continue
			}
			if j, v, bad := firstNonFinite(p.Grad.Data); bad {
				return &NonFiniteError{What: "gradient", Param: keys[k], Index: j, Value: v}
			}
		}
		// Only an overflow of the float64 sum is left, which float32
		// gradients cannot cause.
		return &NonFiniteError{What: "gradient", Param: "(global norm)", Value: sum}
	}
	if norm := math.Sqrt(sum); clipNorm > 0 && norm > clipNorm {
		f := float32(clipNorm / norm)
		for _, p := range params {
			if !p.Trainable || p.Grad == nil {
				continue
			}
			g := p.Grad.Data
			for i := range g {
				g[i] *= f
			}
		}
	}
	return nil
}

// gather copies the samples idx of src (N, ...) into *dst, shaped
// (len(idx), ...), reusing its storage; scratch holds the shape.
func gather(dst **tensor.Tensor, scratch *[]int, src *tensor.Tensor, idx []int) *tensor.Tensor {
	per := len(src.Data) / src.Shape[0]
	*scratch = append(append((*scratch)[:0], len(idx)), src.Shape[1:]...)
	t := tensor.Ensure(dst, *scratch...)
	for i, j := range idx {
		copy(t.Data[i*per:(i+1)*per], src.Data[j*per:(j+1)*per])
	}
	return t
}

// sampleRange copies samples [lo, hi) of src into *dst, reusing its
// storage; scratch holds the shape.
func sampleRange(dst **tensor.Tensor, scratch *[]int, src *tensor.Tensor, lo, hi int) *tensor.Tensor {
	per := len(src.Data) / src.Shape[0]
	*scratch = append(append((*scratch)[:0], hi-lo), src.Shape[1:]...)
	t := tensor.Ensure(dst, *scratch...)
	copy(t.Data, src.Data[lo*per:hi*per])
	return t
}

// Evaluate returns the compiled loss and accuracy of a single-input,
// single-output model on x and y, in inference mode. The accuracy is NaN
// unless the model was compiled with the "accuracy" metric. EvaluateMulti
// evaluates models with several inputs or outputs.
func (m *Model) Evaluate(ctx context.Context, x, y *tensor.Tensor, o EvaluateOptions) (loss, accuracy float64, err error) {
	if err := m.checkSingle("Evaluate"); err != nil {
		return 0, 0, err
	}
	ev, err := m.evaluateOp(ctx, "Evaluate", []*tensor.Tensor{x}, []*tensor.Tensor{y}, o)
	if err != nil {
		return 0, 0, err
	}
	accuracy = math.NaN()
	if m.train.accuracy {
		accuracy = float64(ev.sums[0].correct) / float64(ev.n)
	}
	return ev.loss, accuracy, nil
}

// evaluateOp is Evaluate and EvaluateMulti on a compiled model: it checks
// the data, evaluates it with a progress bar as o asks and prints the
// logged values.
func (m *Model) evaluateOp(ctx context.Context, op string, xs, ys []*tensor.Tensor, o EvaluateOptions) (evalResult, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	if err := m.train.checkHeadNames(); err != nil {
		return evalResult{}, fmt.Errorf("nn: %s: %w", op, err)
	}
	n, err := m.checkSamples(xs, ys, "x", "y")
	if err != nil {
		return evalResult{}, fmt.Errorf("nn: %s: %w", op, err)
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	bs, err := m.InferenceBatch(o.BatchSize)
	if err != nil {
		return evalResult{}, fmt.Errorf("nn: %s: %w", op, err)
	}
	var bar *ProgressBar
	if o.Verbose == 0 || o.Verbose == VerboseBar {
		bar = NewProgressBar(o.Progress, (n+bs-1)/bs)
	}
	ev, err := m.evaluate(ctx, xs, ys, bs, bar)
	if err != nil {
		return evalResult{}, fmt.Errorf("nn: %s: %w", op, err)
	}
	if bar != nil {
		bar.Update(bar.total, ev.values()...)
		bar.Done()
	}
	return ev, nil
}

// evalResult is an evaluation's result: the total loss (the weighted sum
// of the outputs' losses), each output's sums and the number of samples.
type evalResult struct {
	ts   *trainState
	loss float64
	sums []headSum
	n    int
}

// values returns the logged values of the evaluation ("loss",
// "accuracy"; for several outputs also "<output>_loss" and
// "<output>_accuracy").
func (ev evalResult) values() []KV {
	return ev.ts.logValues(nil, "", ev.loss, ev.sums, ev.sums[0].correct, ev.n)
}

// evaluate is Evaluate on checked data: xs one tensor per input, ys one per
// output.
func (m *Model) evaluate(ctx context.Context, xs, ys []*tensor.Tensor, bs int, bar *ProgressBar) (evalResult, error) {
	ts := &m.train
	n := xs[0].Shape[0]
	c := &Context{Step: m.stepCount}
	ts.xbs = slices.Grow(ts.xbs[:0], len(m.inputs))[:len(m.inputs)]
	ts.ybs = slices.Grow(ts.ybs[:0], len(m.outputs))[:len(m.outputs)]
	ts.grads = slices.Grow(ts.grads[:0], len(m.outputs))[:len(m.outputs)]
	xin := make([]*tensor.Tensor, len(xs))
	sums := make([]headSum, len(ts.heads))
	var lossSum float64
	for lo, s := 0, 0; lo < n; lo, s = lo+bs, s+1 {
		if err := ctx.Err(); err != nil {
			return evalResult{}, err
		}
		hi := min(n, lo+bs)
		for i, x := range xs {
			xin[i] = sampleRange(&ts.xbs[i], &ts.shape, x, lo, hi)
		}
		outs, err := m.Forward(c, xin...)
		if err != nil {
			return evalResult{}, err
		}
		var loss float64
		for i, hd := range ts.heads {
			yb := sampleRange(&ts.ybs[i], &ts.shape, ys[i], lo, hi)
			grad := tensor.Ensure(&ts.grads[i], outs[i].Shape...)
			li := hd.loss.Compute(outs[i], yb, grad)
			loss += hd.weighted(li)
			sums[i].loss += li * float64(hi-lo)
			if hd.accuracy {
				sums[i].correct += countCorrect(outs[i], yb)
			}
		}
		lossSum += loss * float64(hi-lo)
		if bar != nil {
			bar.Update(s + 1)
		}
	}
	return evalResult{ts: ts, loss: lossSum / float64(n), sums: sums, n: n}, nil
}

// Predict runs a single-input, single-output model on x (N, input
// shape...) in inference mode, batchSize samples at a time (default 32),
// and returns a new tensor (N, output shape...). It needs no Compile.
// PredictMulti runs models with several inputs or outputs.
func (m *Model) Predict(ctx context.Context, x *tensor.Tensor, batchSize int) (*tensor.Tensor, error) {
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return nil, fmt.Errorf("nn: Predict supports models with one input and one output; %q has %d and %d (use PredictMulti)", m.name, len(m.inputs), len(m.outputs))
	}
	if x == nil || len(x.Shape) == 0 || x.Shape[0] <= 0 {
		return nil, fmt.Errorf("nn: Predict: x must be a non-empty batch, want shape %s", withN(m.inputs[0].shape))
	}
	outs, err := m.predict(ctx, "Predict", []*tensor.Tensor{x}, batchSize)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// predict is Predict and PredictMulti: xs holds one non-empty tensor per
// input, and the result one new tensor per output.
func (m *Model) predict(ctx context.Context, op string, xs []*tensor.Tensor, batchSize int) ([]*tensor.Tensor, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if batchSize <= 0 {
		batchSize = 32
	}
	if err := m.checkInputs(xs); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op, err)
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	batchSize, err := m.InferenceBatch(batchSize)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op, err)
	}
	ts := &m.train
	n := xs[0].Shape[0]
	res := make([]*tensor.Tensor, len(m.outputs))
	for i, y := range m.outputs {
		res[i] = tensor.New(append([]int{n}, y.shape...)...)
	}
	ts.xbs = slices.Grow(ts.xbs[:0], len(m.inputs))[:len(m.inputs)]
	xin := make([]*tensor.Tensor, len(xs))
	c := &Context{Step: m.stepCount}
	for lo := 0; lo < n; lo += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
		hi := min(n, lo+batchSize)
		for i, x := range xs {
			xin[i] = sampleRange(&ts.xbs[i], &ts.shape, x, lo, hi)
		}
		outs, err := m.Forward(c, xin...)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
		for i, out := range res {
			per := m.outputs[i].shape.Size()
			copy(out.Data[lo*per:hi*per], outs[i].Data)
		}
	}
	return res, nil
}
