package lite

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/tensor"
)

// Accuracy runs the model (one float or int8 input, one output of class
// scores) on x (N, ...) in batches and returns the share of inputs whose
// highest score is at the label y (N, class indices as float32). N must
// be at least 1.
func Accuracy(m *Model, x, y *tensor.Tensor, batch int) (float64, error) {
	return AccuracyContext(context.Background(), m, x, y, batch)
}

// AccuracyContext is Accuracy that stops, with the context's error, when
// ctx is done: it checks between batches and, inside a batch, between ops
// (Interpreter.InvokeContext).
func AccuracyContext(ctx context.Context, m *Model, x, y *tensor.Tensor, batch int) (float64, error) {
	if m == nil {
		return 0, fmt.Errorf("lite: accuracy of a nil model")
	}
	if batch < 1 {
		return 0, fmt.Errorf("lite: batch %d, want at least 1", batch)
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return 0, fmt.Errorf("lite: accuracy needs one input and one output, the model has %d and %d", len(m.Inputs), len(m.Outputs))
	}
	if x == nil || y == nil || len(x.Shape) == 0 || len(y.Data) != x.Shape[0] {
		return 0, fmt.Errorf("lite: accuracy needs N inputs and N labels")
	}
	if x.Shape[0] == 0 {
		return 0, fmt.Errorf("lite: accuracy of no inputs (x has shape %s)", x.Shape)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	it, err := NewInterpreter(m)
	if err != nil {
		return 0, err
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds): smaller than asked only when one sample is large.
	if batch, err = it.plan.FitBatch(fmt.Sprintf("lite: model %q", m.Name), batch); err != nil {
		return 0, err
	}
	N, right := x.Shape[0], 0
	for lo := 0; lo < N; lo += batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		hi := min(lo+batch, N)
		if err := it.SetInput(0, x.Batch(lo, hi)); err != nil {
			return 0, err
		}
		if err := it.InvokeContext(ctx); err != nil {
			return 0, err
		}
		out := it.OutputInt8(0)
		C := len(out.Data) / (hi - lo)
		for i := 0; i < hi-lo; i++ {
			row := out.Data[i*C : (i+1)*C]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == int(y.Data[lo+i]) {
				right++
			}
		}
	}
	return float64(right) / float64(N), nil
}

// ScoresContext runs the model (one float or int8 input, one output) on x
// (N, ...) batch samples at a time and calls fn with each batch's output
// scores (n, ...), dequantized to float32 as Interpreter.Output returns
// them, and the index of the batch's first sample; the tensor is valid
// only during the call. It stops with ctx's error when ctx is done and
// with fn's error if fn fails. N must be at least 1.
func ScoresContext(ctx context.Context, m *Model, x *tensor.Tensor, batch int, fn func(lo int, scores *tensor.Tensor) error) error {
	if m == nil {
		return fmt.Errorf("lite: scores of a nil model")
	}
	if batch < 1 {
		return fmt.Errorf("lite: batch %d, want at least 1", batch)
	}
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return fmt.Errorf("lite: scores need one input and one output, the model has %d and %d", len(m.Inputs), len(m.Outputs))
	}
	if x == nil || len(x.Shape) == 0 || x.Shape[0] == 0 {
		return fmt.Errorf("lite: scores of no inputs")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	it, err := NewInterpreter(m)
	if err != nil {
		return err
	}
	// A batch that fits in limits.MaxMemory (docs/RELIABILITY.md, Resource
	// bounds).
	if batch, err = it.plan.FitBatch(fmt.Sprintf("lite: model %q", m.Name), batch); err != nil {
		return err
	}
	N := x.Shape[0]
	for lo := 0; lo < N; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+batch, N)
		if err := it.SetInput(0, x.Batch(lo, hi)); err != nil {
			return err
		}
		if err := it.InvokeContext(ctx); err != nil {
			return err
		}
		if err := fn(lo, it.Output(0)); err != nil {
			return err
		}
	}
	return nil
}
