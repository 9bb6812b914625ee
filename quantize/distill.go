package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// Defaults of Distillation (docs/DESIGN.md, QAT: distillation).
const (
	// DefaultDistillAlpha weighs the distillation term and the label loss
	// equally.
	DefaultDistillAlpha = 0.5
	// DefaultDistillTemperature softens the teacher's distribution enough
	// that its ranking of the wrong classes carries information.
	DefaultDistillTemperature = 4
)

// Distillation is the knowledge-distillation loss (docs/DESIGN.md, QAT:
// distillation): the student trains on
//
//	Alpha * KLDivergence(student, teacher, Temperature) + (1-Alpha) * label loss
//
// where the teacher's logits come from its forward pass in inference mode
// on the same batch; the teacher is not changed.
type Distillation struct {
	// Teacher gives the target logits: usually the float model the QAT
	// student was made from, or any model with the student's input and
	// output shapes (one input, one output).
	Teacher *nn.Model
	// Alpha in (0, 1] weighs the distillation term (1: the teacher only);
	// 0 selects DefaultDistillAlpha.
	Alpha float64
	// Temperature (> 0) softens both distributions; 0 selects
	// DefaultDistillTemperature.
	Temperature float64
}

// resolved returns d with its defaults, or an error for values out of
// range.
func (d Distillation) resolved() (Distillation, error) {
	if d.Teacher == nil {
		return d, errors.New("quantize: distillation needs a teacher model")
	}
	if d.Alpha == 0 {
		d.Alpha = DefaultDistillAlpha
	}
	if d.Temperature == 0 {
		d.Temperature = DefaultDistillTemperature
	}
	if !(d.Alpha > 0 && d.Alpha <= 1) {
		return d, fmt.Errorf("quantize: distillation alpha %v must be in (0, 1]", d.Alpha)
	}
	if !(d.Temperature > 0) || math.IsInf(d.Temperature, 0) {
		return d, fmt.Errorf("quantize: distillation temperature %v must be a positive number", d.Temperature)
	}
	return d, nil
}

// DistillOptions configures Distill. The zero value of each field other
// than Distillation.Teacher selects its default.
type DistillOptions struct {
	// Distillation is the teacher and the loss's weights.
	Distillation
	// Loss is the label loss (default SparseCategoricalCrossentropy with
	// logits).
	Loss nn.Loss
	// Optimizer updates the student (default Adam from DefaultFineTuneLR,
	// decayed along a cosine to a fiftieth of it over all the steps).
	Optimizer nn.Optimizer
	// Epochs (default 1) and BatchSize (default 32) as in nn.FitOptions.
	Epochs, BatchSize int
	// Seed seeds shuffling and dropout: epoch e is shuffled from
	// (Seed, e), step s draws its dropout masks from (Seed, s); the same
	// seed, data and initial weights give bit-identical weights for any
	// thread count.
	Seed uint64
	// Verbose and Progress select the output as in nn.FitOptions: 0 or
	// nn.VerboseBar a progress bar, nn.VerboseEpoch one line per epoch,
	// nn.VerboseSilent nothing; on Progress (default standard output).
	Verbose  int
	Progress io.Writer
	// ValidationX and ValidationY, if set, are evaluated with the label
	// loss after each epoch (inference mode) into the History.
	ValidationX, ValidationY *tensor.Tensor
	// ClipNorm, if positive, scales each step's gradients to a global L2
	// norm of at most ClipNorm.
	ClipNorm float64
	// Batches, if set, supplies the training batches (e.g. a loader that
	// augments: the teacher sees the same augmented batch); x and y are
	// then not used.
	Batches nn.Batches
	// OnEpochEnd, if set, is called after every epoch (from 0) with its
	// logs ("loss", "accuracy", "val_loss", "val_accuracy"); an error
	// stops Distill, which returns it.
	OnEpochEnd func(epoch int, logs map[string]float64) error
}

// Seed streams of Distill's random sources.
const (
	distillShuffle = 0x4453_4855 // "DSHU"
	distillDropout = 0x4444_524f // "DDRO"
)

// Distill trains student (a QAT model from Model, or any float model) on
// samples x (N, input shape...) and labels y (N) against the teacher's
// logits with the Distillation loss, for o.Epochs, and returns the
// per-epoch metrics: "loss" is the mixed loss, "accuracy" the student's
// training accuracy, the validation metrics use the label loss. It is a
// custom training step (docs/DESIGN.md, A custom training step) in a loop
// with Fit's conveniences: seeded shuffling and dropout, the model's step
// counter (Context.Step, which freezes folded batch normalization) counted
// on, a check of the loss and the gradients for NaN and infinity before
// each update, progress output, and ctx checked before every step (on
// cancellation Distill returns the finished epochs' History and an error
// wrapping ctx.Err()). The teacher runs in inference mode and is not
// changed.
func Distill(ctx context.Context, student *nn.Model, x, y *tensor.Tensor, o DistillOptions) (*nn.History, error) {
	d, err := o.Distillation.resolved()
	if err != nil {
		return nil, err
	}
	t := d.Teacher
	if err := checkPair(student, t); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Loss == nil {
		o.Loss = nn.SparseCategoricalCrossentropy{FromLogits: true}
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Epochs < 0 || o.BatchSize < 0 {
		return nil, fmt.Errorf("quantize: Distill: epochs %d and batch size %d must be positive", o.Epochs, o.BatchSize)
	}
	if !(o.ClipNorm >= 0) || math.IsInf(o.ClipNorm, 0) {
		return nil, fmt.Errorf("quantize: Distill: ClipNorm %v must be a finite number >= 0", o.ClipNorm)
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	out := student.Outputs()[0]
	in := student.Inputs()[0]
	n := 0
	if o.Batches != nil {
		if n = o.Batches.Len(); n < 1 {
			return nil, errors.New("quantize: Distill: the batch source holds no samples")
		}
		defer o.Batches.Stop()
	} else {
		if err := checkSamples(in, out, o.Loss, x, y, "x", "y"); err != nil {
			return nil, fmt.Errorf("quantize: Distill: %w", err)
		}
		n = x.Shape[0]
	}
	hasVal := o.ValidationX != nil || o.ValidationY != nil
	if hasVal {
		if err := checkSamples(in, out, o.Loss, o.ValidationX, o.ValidationY, "validation x", "validation y"); err != nil {
			return nil, fmt.Errorf("quantize: Distill: %w", err)
		}
	}
	bs := min(o.BatchSize, n)
	steps := (n + bs - 1) / bs
	opt := o.Optimizer
	if opt == nil {
		a := optim.NewAdam(DefaultFineTuneLR)
		a.LR = optim.Cosine{Base: DefaultFineTuneLR, Steps: o.Epochs * steps, Min: DefaultFineTuneLR / 50}
		opt = a
	}
	params := student.Params()
	st := &distillStep{d: d, loss: o.Loss, student: student, teacher: t}
	perm := make([]int, n)
	var shufSrc, dropSrc rand.PCG
	shuffle := rand.New(&shufSrc)
	c := &nn.Context{Training: true, Rand: rand.New(&dropSrc)}
	swap := func(i, j int) { perm[i], perm[j] = perm[j], perm[i] }
	var xb, yb *tensor.Tensor
	var scratch []int
	h := &nn.History{}
	vals := make([]nn.KV, 0, 4)
	for epoch := 0; epoch < o.Epochs; epoch++ {
		for i := range perm {
			perm[i] = i
		}
		shufSrc.Seed(o.Seed, splitMix(distillShuffle, uint64(epoch)))
		shuffle.Shuffle(n, swap)
		if o.Batches != nil {
			if err := o.Batches.StartEpoch(ctx, epoch, perm, bs, 0); err != nil {
				return h, fmt.Errorf("quantize: Distill: %w", err)
			}
		}
		var bar *nn.ProgressBar
		if o.Verbose == 0 || o.Verbose == nn.VerboseBar {
			fmt.Fprintf(o.Progress, "Epoch %d/%d\n", epoch+1, o.Epochs)
			bar = nn.NewProgressBar(o.Progress, steps)
		}
		start := time.Now()
		lossSum, correct, seen := 0.0, 0, 0
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return h, fmt.Errorf("quantize: Distill stopped in epoch %d at step %d/%d: %w", epoch+1, s, steps, err)
			}
			idx := perm[s*bs : min(n, (s+1)*bs)]
			if o.Batches != nil {
				var err error
				if xb, yb, err = o.Batches.Next(); err != nil {
					if ctx.Err() != nil {
						return h, fmt.Errorf("quantize: Distill stopped in epoch %d at step %d/%d: %w", epoch+1, s, steps, ctx.Err())
					}
					return h, fmt.Errorf("quantize: Distill: epoch %d, step %d: %w", epoch+1, s+1, err)
				}
				if err := checkSamples(in, out, o.Loss, xb, yb, "batch", "batch targets"); err != nil || xb.Shape[0] != len(idx) {
					if err == nil {
						err = fmt.Errorf("batch of %d samples, want %d", xb.Shape[0], len(idx))
					}
					return h, fmt.Errorf("quantize: Distill: epoch %d, step %d: %w", epoch+1, s+1, err)
				}
			} else {
				xb, yb = gatherRows(&xb, &scratch, x, idx), gatherRows(&yb, &scratch, y, idx)
			}
			c.Step = student.Step()
			dropSrc.Seed(o.Seed, splitMix(distillDropout, uint64(epoch*steps+s)))
			loss, ok, err := st.run(c, xb, yb)
			if err != nil {
				return h, fmt.Errorf("quantize: Distill: epoch %d, step %d: %w", epoch+1, s+1, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return h, &nn.NonFiniteError{Step: student.Step(), Epoch: epoch + 1, Batch: s + 1, What: "loss", Value: loss}
			}
			if e := checkGrads(params, o.ClipNorm); e != nil {
				e.Step, e.Epoch, e.Batch = student.Step(), epoch+1, s+1
				return h, e
			}
			opt.Step(params)
			student.SetStep(student.Step() + 1)
			lossSum += loss * float64(len(idx))
			correct += ok
			seen += len(idx)
			if bar != nil {
				bar.Update(s+1, nn.KV{Key: "loss", Value: lossSum / float64(seen)}, nn.KV{Key: "accuracy", Value: float64(correct) / float64(seen)})
			}
		}
		secs := time.Since(start).Seconds()
		if o.Batches != nil {
			o.Batches.Stop()
		}
		logs := map[string]float64{"loss": lossSum / float64(n), "accuracy": float64(correct) / float64(n)}
		vals = append(vals[:0], nn.KV{Key: "loss", Value: logs["loss"]}, nn.KV{Key: "accuracy", Value: logs["accuracy"]})
		if hasVal {
			vl, va, err := st.evaluate(ctx, o.ValidationX, o.ValidationY, o.BatchSize)
			if err != nil {
				return h, fmt.Errorf("quantize: Distill: validation: %w", err)
			}
			logs["val_loss"], logs["val_accuracy"] = vl, va
			vals = append(vals, nn.KV{Key: "val_loss", Value: vl}, nn.KV{Key: "val_accuracy", Value: va})
			h.ValLoss = append(h.ValLoss, vl)
			h.ValAccuracy = append(h.ValAccuracy, va)
		}
		h.Epoch = append(h.Epoch, epoch)
		h.Loss = append(h.Loss, logs["loss"])
		h.Accuracy = append(h.Accuracy, logs["accuracy"])
		h.EpochSeconds = append(h.EpochSeconds, secs)
		switch {
		case bar != nil:
			bar.Update(steps, vals...)
			bar.Done()
		case o.Verbose == nn.VerboseEpoch:
			fmt.Fprintf(o.Progress, "Epoch %d/%d - %.0fs", epoch+1, o.Epochs, secs)
			for _, kv := range vals {
				fmt.Fprintf(o.Progress, " - %s: %.4f", kv.Key, kv.Value)
			}
			fmt.Fprintln(o.Progress)
		}
		if o.OnEpochEnd != nil {
			if err := o.OnEpochEnd(epoch, logs); err != nil {
				return h, err
			}
		}
	}
	return h, nil
}

// checkPair checks that student and teacher are distinct single-input,
// single-output models of the same input and output shapes.
func checkPair(student, teacher *nn.Model) error {
	switch {
	case student == nil:
		return errors.New("quantize: distillation needs a student model")
	case student == teacher:
		return errors.New("quantize: distillation needs a teacher other than the student")
	}
	for _, m := range []*nn.Model{student, teacher} {
		if len(m.Inputs()) != 1 || len(m.Outputs()) != 1 {
			return fmt.Errorf("quantize: distillation supports models with one input and one output; %q has %d and %d", m.Name(), len(m.Inputs()), len(m.Outputs()))
		}
	}
	if si, ti := student.Inputs()[0], teacher.Inputs()[0]; !si.Equal(ti) {
		return fmt.Errorf("quantize: distillation: the student takes %s but the teacher %s", si, ti)
	}
	if so, to := student.Outputs()[0], teacher.Outputs()[0]; !so.Equal(to) {
		return fmt.Errorf("quantize: distillation: the student gives %s but the teacher %s", so, to)
	}
	return nil
}

// checkSamples checks samples x (N, in...) and targets y (N, ...) for a
// model of input shape in and output shape out trained with loss.
func checkSamples(in, out tensor.Shape, loss nn.Loss, x, y *tensor.Tensor, xName, yName string) error {
	if x == nil || y == nil {
		return fmt.Errorf("%s and %s must not be nil", xName, yName)
	}
	if len(x.Shape) != len(in)+1 || !x.Shape[1:].Equal(in) || x.Shape[0] <= 0 || len(x.Data) != x.Shape.Size() {
		return fmt.Errorf("%s: got shape %s, want (N, %s)", xName, x.Shape, in)
	}
	if len(y.Shape) == 0 || y.Shape[0] != x.Shape[0] || len(y.Data) != y.Shape.Size() {
		return fmt.Errorf("%s: shape %s for %d samples", yName, y.Shape, x.Shape[0])
	}
	if tc, ok := loss.(nn.TargetChecker); ok {
		if err := tc.CheckTargets(out, y); err != nil {
			return fmt.Errorf("%s: %w", yName, err)
		}
	}
	return nil
}

// distillStep holds one distillation step's models and reused buffers.
type distillStep struct {
	d                Distillation
	loss             nn.Loss
	student, teacher *nn.Model
	tl               *tensor.Tensor // the teacher's logits
	dkd, dce, grad   *tensor.Tensor // gradients of the two terms and of the mix
	vx, vy           *tensor.Tensor // validation batch
	scratch          []int
}

// run is one custom training step up to the gradients: the teacher's
// forward (inference mode), the student's (c), the mixed loss and its
// gradient, the student's Backward. It returns the loss and the number of
// samples the student classified right.
func (st *distillStep) run(c *nn.Context, xb, yb *tensor.Tensor) (float64, int, error) {
	touts, err := st.teacher.Forward(&nn.Context{Step: st.teacher.Step()}, xb)
	if err != nil {
		return 0, 0, fmt.Errorf("teacher: %w", err)
	}
	tl := tensor.Ensure(&st.tl, touts[0].Shape...)
	copy(tl.Data, touts[0].Data)
	outs, err := st.student.Forward(c, xb)
	if err != nil {
		return 0, 0, err
	}
	pred := outs[0]
	dkd := tensor.Ensure(&st.dkd, pred.Shape...)
	dce := tensor.Ensure(&st.dce, pred.Shape...)
	grad := tensor.Ensure(&st.grad, pred.Shape...)
	kd, err := KLDivergence(pred, tl, st.d.Temperature, dkd)
	if err != nil {
		return 0, 0, err
	}
	a := st.d.Alpha
	loss := a * kd
	if a < 1 {
		loss += (1 - a) * st.loss.Compute(pred, yb, dce)
		fa, fb := float32(a), float32(1-a)
		for i := range grad.Data {
			grad.Data[i] = fa*dkd.Data[i] + fb*dce.Data[i]
		}
	} else {
		copy(grad.Data, dkd.Data)
	}
	if err := st.student.Backward(c, grad); err != nil {
		return 0, 0, err
	}
	return loss, countRight(pred, yb), nil
}

// evaluate returns the student's mean label loss and accuracy on x and y,
// in inference mode, in batches of bs.
func (st *distillStep) evaluate(ctx context.Context, x, y *tensor.Tensor, bs int) (float64, float64, error) {
	n := x.Shape[0]
	lossSum, right := 0.0, 0
	c := &nn.Context{Step: st.student.Step()}
	for lo := 0; lo < n; lo += bs {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		hi := min(n, lo+bs)
		idx := make([]int, 0, hi-lo)
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		xb, yb := gatherRows(&st.vx, &st.scratch, x, idx), gatherRows(&st.vy, &st.scratch, y, idx)
		outs, err := st.student.Forward(c, xb)
		if err != nil {
			return 0, 0, err
		}
		g := tensor.Ensure(&st.dce, outs[0].Shape...)
		lossSum += st.loss.Compute(outs[0], yb, g) * float64(hi-lo)
		right += countRight(outs[0], yb)
	}
	return lossSum / float64(n), float64(right) / float64(n), nil
}

// countRight counts the rows of pred (B, C) whose largest score is at the
// class index in y (B) or (B, 1); 0 for other shapes.
func countRight(pred, y *tensor.Tensor) int {
	if len(pred.Shape) != 2 || len(y.Data) != pred.Shape[0] {
		return 0
	}
	c, right := pred.Shape[1], 0
	for i, label := range y.Data {
		row := pred.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if float32(best) == label {
			right++
		}
	}
	return right
}

// checkGrads checks the trainable gradients for NaN and infinity and, if
// clipNorm > 0, scales them to a global L2 norm of at most clipNorm.
func checkGrads(params []*nn.Param, clipNorm float64) *nn.NonFiniteError {
	sum := 0.0
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		for j, g := range p.Grad.Data {
			if v := float64(g); math.IsNaN(v) || math.IsInf(v, 0) {
				return &nn.NonFiniteError{What: "gradient", Param: p.Name, Index: j, Value: v}
			}
			sum += float64(g) * float64(g)
		}
	}
	if norm := math.Sqrt(sum); clipNorm > 0 && norm > clipNorm {
		f := float32(clipNorm / norm)
		for _, p := range params {
			if !p.Trainable || p.Grad == nil {
				continue
			}
			for j := range p.Grad.Data {
				p.Grad.Data[j] *= f
			}
		}
	}
	return nil
}

// gatherRows copies the samples idx of src (N, ...) into *dst, shaped
// (len(idx), ...), reusing its storage; scratch holds the shape.
func gatherRows(dst **tensor.Tensor, scratch *[]int, src *tensor.Tensor, idx []int) *tensor.Tensor {
	per := len(src.Data) / src.Shape[0]
	*scratch = append(append((*scratch)[:0], len(idx)), src.Shape[1:]...)
	t := tensor.Ensure(dst, *scratch...)
	for i, j := range idx {
		copy(t.Data[i*per:(i+1)*per], src.Data[j*per:(j+1)*per])
	}
	return t
}

// splitMix derives a PCG seed from a stream tag and an index (SplitMix64's
// finaliser), so that nearby indices give unrelated sequences.
func splitMix(stream, i uint64) uint64 {
	z := stream<<32 ^ i
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
