package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Accuracy returns the top-1 accuracy of the QAT model qat (inference mode)
// on samples x (N, input shape...) with labels y (N, class indices as
// float32), batchSize samples at a time. In inference mode a QAT model
// computes bit for bit what its integer model computes, so the integer
// engine, several times faster, measures it (Convert, then lite.Accuracy);
// the QAT model itself does when it does not convert or its integer model
// cannot run. qat is left unchanged (not compiled, no state updated).
func Accuracy(ctx context.Context, qat *nn.Model, x, y *tensor.Tensor, batchSize int) (float64, error) {
	if err := checkEval(qat, x, y, batchSize); err != nil {
		return 0, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if im, err := Convert(qat); err == nil {
		acc, err := lite.AccuracyContext(ctx, im, x, y, batchSize)
		if err == nil {
			return acc, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	scores, err := qat.Predict(ctx, x, batchSize)
	if err != nil {
		return 0, err
	}
	return top1Accuracy(scores, y), nil
}

// AgreementOptions configures Agreement.
type AgreementOptions struct {
	// BatchSize is the number of samples per pass of either model
	// (default 32).
	BatchSize int
	// Verbose selects the progress output, as nn.FitOptions.Verbose does:
	// 0 or nn.VerboseBar a title line and a progress bar (live on a
	// terminal), nn.VerboseEpoch the title and the bar's final line only,
	// nn.VerboseSilent (or any other value) nothing.
	Verbose int
	// Progress receives the output (default os.Stdout).
	Progress io.Writer
}

// AgreementResult is what Agreement measured, each a share of the inputs.
type AgreementResult struct {
	// QATAccuracy is the QAT model's top-1 accuracy in inference mode.
	QATAccuracy float64
	// Int8Accuracy is the integer model's top-1 accuracy.
	Int8Accuracy float64
	// Top1Agreement is the share of inputs on which the integer model's
	// top-1 class is the QAT model's.
	Top1Agreement float64
}

// Agreement runs the QAT model qat (inference mode) and its integer model
// im (from Convert) over the samples x (N, input shape...) with labels y
// (N, class indices as float32) and returns both accuracies and how often
// the two pick the same class (the first largest score of each). The
// integer model computes what the QAT model computes, so Top1Agreement is
// 1 unless something is broken; Compare shows where. qat is left unchanged.
func Agreement(ctx context.Context, qat *nn.Model, im *lite.Model, x, y *tensor.Tensor, o AgreementOptions) (*AgreementResult, error) {
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if err := checkEval(qat, x, y, o.BatchSize); err != nil {
		return nil, err
	}
	if im == nil || len(im.Inputs) != 1 || len(im.Outputs) != 1 {
		return nil, errors.New("convert: Agreement needs an integer model with one input and one output")
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	if ctx == nil {
		ctx = context.Background()
	}
	pq, err := qat.Predict(ctx, x, o.BatchSize)
	if err != nil {
		return nil, err
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		return nil, err
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	batch, err := im.InferenceBatch(max(o.BatchSize, 1))
	if err != nil {
		return nil, err
	}
	n, same, right, qatRight := x.Shape[0], 0, 0, 0
	C := pq.Size() / n
	var bar *nn.ProgressBar
	switch o.Verbose {
	case 0, nn.VerboseBar:
		fmt.Fprintln(o.Progress, "int8 evaluation:")
		bar = nn.NewProgressBar(o.Progress, (n+batch-1)/batch)
	case nn.VerboseEpoch: // the final line only: hide the terminal from the bar
		fmt.Fprintln(o.Progress, "int8 evaluation:")
		bar = nn.NewProgressBar(struct{ io.Writer }{o.Progress}, (n+batch-1)/batch)
	}
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := it.SetInput(0, x.Batch(lo, hi)); err != nil {
			return nil, err
		}
		if err := it.InvokeContext(ctx); err != nil {
			return nil, err
		}
		out := it.Output(0).Data
		if len(out) != (hi-lo)*C {
			return nil, fmt.Errorf("convert: Agreement: the integer model gives %d scores per input, the QAT model %d", len(out)/(hi-lo), C)
		}
		for i := lo; i < hi; i++ {
			k, kq := argmax(out[(i-lo)*C:(i-lo+1)*C]), argmax(pq.Data[i*C:(i+1)*C])
			if k == kq {
				same++
			}
			if k == int(y.Data[i]) {
				right++
			}
			if kq == int(y.Data[i]) {
				qatRight++
			}
		}
		if bar != nil {
			bar.Update((hi+batch-1)/batch, nn.KV{Key: "accuracy", Value: float64(right) / float64(hi)},
				nn.KV{Key: "same top-1 as QAT", Value: float64(same) / float64(hi)})
		}
	}
	if bar != nil {
		bar.Done()
	}
	return &AgreementResult{
		QATAccuracy:   float64(qatRight) / float64(n),
		Int8Accuracy:  float64(right) / float64(n),
		Top1Agreement: float64(same) / float64(n),
	}, nil
}

// checkEval rejects what Accuracy and Agreement cannot evaluate.
func checkEval(qat *nn.Model, x, y *tensor.Tensor, batchSize int) error {
	switch {
	case qat == nil:
		return errors.New("convert: evaluating a nil model")
	case batchSize < 1:
		return fmt.Errorf("convert: batch %d, want at least 1", batchSize)
	case x == nil || y == nil || len(x.Shape) == 0 || x.Shape[0] == 0 || len(y.Data) != x.Shape[0]:
		return errors.New("convert: evaluation needs N > 0 inputs and N labels")
	}
	return nil
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

// argmax returns the index of the first largest value.
func argmax(v []float32) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}
