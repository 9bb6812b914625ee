package nn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
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
	Metrics []string
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
// validation slices are empty when not computed.
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
	loss     Loss
	opt      Optimizer
	accuracy bool
	xb, yb   *tensor.Tensor // batch copies of the samples
	grad     *tensor.Tensor // dL/dpred
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
// Evaluate.
func (m *Model) Compile(o CompileOptions) error {
	if o.Loss == nil {
		return errors.New("nn: Compile: no loss")
	}
	acc := false
	for _, name := range o.Metrics {
		switch name {
		case "accuracy", "acc":
			if !isSparseCE(o.Loss) {
				return fmt.Errorf("nn: Compile: metric %q needs integer class labels (loss SparseCategoricalCrossentropy), not %s", name, o.Loss.Name())
			}
			acc = true
		default:
			return fmt.Errorf("nn: Compile: unknown metric %q (supported: accuracy)", name)
		}
	}
	m.train.compiled = true
	m.train.loss, m.train.opt, m.train.accuracy = o.Loss, o.Optimizer, acc
	return nil
}

func isSparseCE(l Loss) bool {
	switch l.(type) {
	case SparseCategoricalCrossentropy, *SparseCategoricalCrossentropy:
		return true
	}
	return false
}

// checkData validates samples x and targets y for the compiled single-input,
// single-output model.
func (m *Model) checkData(x, y *tensor.Tensor, xName, yName string) error {
	if x == nil || y == nil {
		return fmt.Errorf("%s and %s must not be nil", xName, yName)
	}
	want := m.inputs[0].shape
	if len(x.Shape) == len(want)+1 && x.Shape[1:].Equal(want) && x.Shape[0] == 0 {
		return fmt.Errorf("%s holds no samples (shape %s)", xName, x.Shape)
	}
	if len(x.Shape) != len(want)+1 || !x.Shape[1:].Equal(want) || x.Shape[0] <= 0 || len(x.Data) != x.Shape.Size() {
		got := x.Shape.String()
		if len(x.Shape) > 1 {
			got = withN(x.Shape[1:])
		}
		return fmt.Errorf("%s: got shape %s, want %s", xName, got, withN(want))
	}
	if len(y.Shape) == 0 || len(y.Data) != y.Shape.Size() {
		return fmt.Errorf("%s: bad shape %s", yName, y.Shape)
	}
	if y.Shape[0] != x.Shape[0] {
		return fmt.Errorf("%s has %d samples but %s has %d", xName, x.Shape[0], yName, y.Shape[0])
	}
	if tc, ok := m.train.loss.(TargetChecker); ok {
		if err := tc.CheckTargets(m.outputs[0].shape, y); err != nil {
			return fmt.Errorf("%s: %w", yName, err)
		}
	}
	return nil
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
		return fmt.Errorf("nn: %s supports models with one input and one output; %q has %d and %d (use Forward and Backward)", op, m.name, len(m.inputs), len(m.outputs))
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
// one.
func (m *Model) Fit(ctx context.Context, x, y *tensor.Tensor, o FitOptions) (*History, error) {
	if err := m.checkSingle("Fit"); err != nil {
		return nil, err
	}
	if m.train.opt == nil {
		return nil, fmt.Errorf("nn: Fit: the model was compiled without an optimizer")
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
		return nil, fmt.Errorf("nn: Fit: batch size %d and epochs %d must be positive", o.BatchSize, o.Epochs)
	}
	if !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) {
		return nil, fmt.Errorf("nn: Fit: ClipNorm %v must be a finite number >= 0", o.ClipNorm)
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	if o.DataParallel != nil && o.Batches != nil {
		return nil, fmt.Errorf("nn: Fit: DataParallel does not support a batch source (Batches) yet")
	}
	if o.DataParallel != nil && (o.ClassWeight != nil || o.SampleWeight != nil) {
		return nil, fmt.Errorf("nn: Fit: DataParallel does not support class or sample weights yet")
	}
	n := 0
	if o.Batches != nil {
		if n = o.Batches.Len(); n < 1 {
			return nil, fmt.Errorf("nn: Fit: the batch source holds no samples")
		}
		defer o.Batches.Stop()
	} else {
		if err := m.checkData(x, y, "x", "y"); err != nil {
			return nil, fmt.Errorf("nn: Fit: %w", err)
		}
		n = x.Shape[0]
	}
	hasVal := o.ValidationX != nil || o.ValidationY != nil
	if hasVal {
		if err := m.checkData(o.ValidationX, o.ValidationY, "validation x", "validation y"); err != nil {
			return nil, fmt.Errorf("nn: Fit: %w", err)
		}
	}

	weighted, err := m.checkWeights(&o, n)
	if err != nil {
		return nil, err
	}

	bs := min(o.BatchSize, n)
	steps := (n + bs - 1) / bs
	ts := &m.train
	if cap(ts.perm) < n {
		ts.perm = make([]int, n)
	}
	perm := ts.perm[:n]
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
	h := &History{}
	var pos fitPos
	if o.Resume != "" {
		var err error
		if pos, h, err = m.restore(o.Resume, ts.opt, o, n, bs, steps, params, keys); err != nil {
			return nil, err
		}
	}
	var tr *Training
	if len(o.Callbacks) > 0 {
		tr = &Training{Model: m, Optimizer: ts.opt, Epochs: o.Epochs, Metrics: fitMetrics(ts.accuracy, hasVal)}
		for i, cb := range o.Callbacks {
			if cb == nil {
				return h, fmt.Errorf("nn: Fit: callback %d is nil", i)
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
		for i := range perm {
			perm[i] = i
		}
		if !o.NoShuffle {
			shufSrc.Seed(o.Seed, mix(streamShuffle, uint64(epoch)))
			shuffle.Shuffle(n, swap)
		}
		if o.Batches != nil {
			if err := o.Batches.StartEpoch(ctx, epoch, perm, bs, pos.batch); err != nil {
				return h, fmt.Errorf("nn: Fit: %w", err)
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
				return stop(fmt.Errorf("nn: Fit stopped in epoch %d at step %d/%d: %w", epoch+1, s, steps, err))
			}
			idx := perm[s*bs : min(n, (s+1)*bs)]
			var xb, yb *tensor.Tensor
			if o.Batches != nil {
				var err error
				if xb, yb, err = o.Batches.Next(); err != nil {
					if ctx.Err() != nil {
						pos.batch, pos.fitStep = s, epoch*steps+s
						pos.seconds = elapsed()
						return stop(fmt.Errorf("nn: Fit stopped in epoch %d at step %d/%d: %w", epoch+1, s, steps, ctx.Err()))
					}
					return h, fmt.Errorf("nn: Fit: epoch %d, step %d: %w", epoch+1, s+1, err)
				}
				if err := m.checkBatch(xb, yb, len(idx)); err != nil {
					return h, fmt.Errorf("nn: Fit: epoch %d, step %d: %w", epoch+1, s+1, err)
				}
			} else if o.DataParallel == nil {
				xb = gather(&ts.xb, &ts.shape, x, idx)
				yb = gather(&ts.yb, &ts.shape, y, idx)
			}
			c.Step = m.stepCount
			dropSrc.Seed(o.Seed, mix(streamDropout, uint64(epoch*steps+s)))
			var loss float64
			if o.DataParallel != nil {
				var err error
				if loss, err = m.dataParallelStep(c, o.DataParallel, o.Seed, epoch*steps+s, x, y, idx, params, &pos.correct); err != nil {
					return h, fmt.Errorf("nn: Fit: epoch %d, step %d: %w", epoch+1, s+1, err)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					return h, &NonFiniteError{Step: m.stepCount, Epoch: epoch + 1, Batch: s + 1, What: "loss", Value: loss}
				}
			} else {
				outs, err := m.Forward(c, xb)
				if err != nil {
					return h, fmt.Errorf("nn: Fit: %w", err)
				}
				pred := outs[0]
				grad := tensor.Ensure(&ts.grad, pred.Shape...)
				if weighted {
					loss = weightedLoss(ts.loss, pred, yb, m.batchWeights(&o, yb, idx), grad)
				} else {
					loss = ts.loss.Compute(pred, yb, grad)
				}
				if math.IsNaN(loss) || math.IsInf(loss, 0) {
					return h, &NonFiniteError{Step: m.stepCount, Epoch: epoch + 1, Batch: s + 1, What: "loss", Value: loss}
				}
				if ts.accuracy {
					pos.correct += countCorrect(pred, yb)
				}
				if err := m.Backward(c, grad); err != nil {
					return h, fmt.Errorf("nn: Fit: %w", err)
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
				vals = append(vals[:0], KV{"loss", pos.lossSum / float64(pos.seen)})
				if ts.accuracy {
					vals = append(vals, KV{"accuracy", float64(pos.correct) / float64(pos.seen)})
				}
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
		logs := map[string]float64{"loss": pos.lossSum / float64(n)}
		vals = append(vals[:0], KV{"loss", logs["loss"]})
		if ts.accuracy {
			logs["accuracy"] = float64(pos.correct) / float64(n)
			vals = append(vals, KV{"accuracy", logs["accuracy"]})
		}
		if hasVal {
			vl, va, err := m.evaluate(ctx, o.ValidationX, o.ValidationY, o.BatchSize, nil)
			if err != nil {
				err = fmt.Errorf("nn: Fit: validation: %w", err)
				if ctx.Err() != nil {
					return stop(err)
				}
				return h, err
			}
			logs["val_loss"] = vl
			vals = append(vals, KV{"val_loss", vl})
			if ts.accuracy {
				logs["val_accuracy"] = va
				vals = append(vals, KV{"val_accuracy", va})
			}
		}
		h.Epoch = append(h.Epoch, epoch)
		h.Loss = append(h.Loss, logs["loss"])
		if ts.accuracy {
			h.Accuracy = append(h.Accuracy, logs["accuracy"])
		}
		if hasVal {
			h.ValLoss = append(h.ValLoss, logs["val_loss"])
			if ts.accuracy {
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
// unless the model was compiled with the "accuracy" metric.
func (m *Model) Evaluate(ctx context.Context, x, y *tensor.Tensor, o EvaluateOptions) (loss, accuracy float64, err error) {
	if err := m.checkSingle("Evaluate"); err != nil {
		return 0, 0, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	if err := m.checkData(x, y, "x", "y"); err != nil {
		return 0, 0, fmt.Errorf("nn: Evaluate: %w", err)
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	bs, err := m.InferenceBatch(o.BatchSize)
	if err != nil {
		return 0, 0, fmt.Errorf("nn: Evaluate: %w", err)
	}
	var bar *ProgressBar
	if o.Verbose == 0 || o.Verbose == VerboseBar {
		bar = NewProgressBar(o.Progress, (x.Shape[0]+bs-1)/bs)
	}
	loss, accuracy, err = m.evaluate(ctx, x, y, bs, bar)
	if err != nil {
		return 0, 0, fmt.Errorf("nn: Evaluate: %w", err)
	}
	if bar != nil {
		vals := []KV{{"loss", loss}}
		if m.train.accuracy {
			vals = append(vals, KV{"accuracy", accuracy})
		}
		bar.Update(bar.total, vals...)
		bar.Done()
	}
	return loss, accuracy, nil
}

// evaluate is Evaluate on checked data.
func (m *Model) evaluate(ctx context.Context, x, y *tensor.Tensor, bs int, bar *ProgressBar) (loss, accuracy float64, err error) {
	ts := &m.train
	n := x.Shape[0]
	c := &Context{Step: m.stepCount}
	var lossSum float64
	correct := 0
	for lo, s := 0, 0; lo < n; lo, s = lo+bs, s+1 {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		hi := min(n, lo+bs)
		outs, err := m.Forward(c, sampleRange(&ts.xb, &ts.shape, x, lo, hi))
		if err != nil {
			return 0, 0, err
		}
		yb := sampleRange(&ts.yb, &ts.shape, y, lo, hi)
		grad := tensor.Ensure(&ts.grad, outs[0].Shape...)
		lossSum += ts.loss.Compute(outs[0], yb, grad) * float64(hi-lo)
		if ts.accuracy {
			correct += countCorrect(outs[0], yb)
		}
		if bar != nil {
			bar.Update(s + 1)
		}
	}
	accuracy = math.NaN()
	if ts.accuracy {
		accuracy = float64(correct) / float64(n)
	}
	return lossSum / float64(n), accuracy, nil
}

// Predict runs a single-input, single-output model on x (N, input
// shape...) in inference mode, batchSize samples at a time (default 32),
// and returns a new tensor (N, output shape...). It needs no Compile.
func (m *Model) Predict(ctx context.Context, x *tensor.Tensor, batchSize int) (*tensor.Tensor, error) {
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return nil, fmt.Errorf("nn: Predict supports models with one input and one output; %q has %d and %d (use Forward)", m.name, len(m.inputs), len(m.outputs))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if batchSize <= 0 {
		batchSize = 32
	}
	if x == nil || len(x.Shape) == 0 || x.Shape[0] <= 0 {
		return nil, fmt.Errorf("nn: Predict: x must be a non-empty batch, want shape %s", withN(m.inputs[0].shape))
	}
	if err := m.checkInputs([]*tensor.Tensor{x}); err != nil {
		return nil, fmt.Errorf("nn: Predict: %w", err)
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	batchSize, err := m.InferenceBatch(batchSize)
	if err != nil {
		return nil, fmt.Errorf("nn: Predict: %w", err)
	}
	n := x.Shape[0]
	outShape := m.outputs[0].shape
	out := tensor.New(append([]int{n}, outShape...)...)
	per := outShape.Size()
	c := &Context{Step: m.stepCount}
	for lo := 0; lo < n; lo += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("nn: Predict: %w", err)
		}
		hi := min(n, lo+batchSize)
		outs, err := m.Forward(c, sampleRange(&m.train.xb, &m.train.shape, x, lo, hi))
		if err != nil {
			return nil, fmt.Errorf("nn: Predict: %w", err)
		}
		copy(out.Data[lo*per:hi*per], outs[0].Data)
	}
	return out, nil
}
