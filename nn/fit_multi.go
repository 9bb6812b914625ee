package nn

import (
	"context"
	"fmt"
	"strings"

	"github.com/goqat/goqat/tensor"
)

// FitMulti trains a compiled model with any number of inputs and outputs,
// as Keras's fit(x=[x1, x2], y=[y1, y2]) (docs/DESIGN.md, Several inputs
// and outputs): x holds one tensor per model input (Model.Inputs order),
// each (N, input shape...), and y one tensor per output (Model.Outputs
// order), each (N, ...) as that output's loss expects; all have the same
// N. Each step computes every output's loss (CompileOptions.Loss or
// Losses) and minimises the total sum_i w_i * loss_i (LossWeights, 1 by
// default): output i's gradient is its loss's gradient times w_i. It logs
// "loss" (the total), and with several outputs each output's unweighted
// "<output>_loss" and its metrics ("<output>_accuracy"), with their "val_"
// forms for the validation data (FitOptions.ValidationInputs and
// ValidationTargets); callbacks can monitor any of them, and
// History.Metrics holds them all.
//
// Order, dropout, seeds, clipping and the non-finite checks are Fit's, so
// a model with one input and one output trains through FitMulti exactly
// as through Fit, bit for bit. Batches and DataParallel need one input and
// one output; checkpoints (Checkpoint, Resume) and ClassWeight need one
// output; SampleWeight weights every output's loss.
func (m *Model) FitMulti(ctx context.Context, x, y []*tensor.Tensor, o FitOptions) (*History, error) {
	if !m.train.compiled {
		return nil, fmt.Errorf("nn: FitMulti: the model is not compiled (call Compile first)")
	}
	return m.fit(ctx, "FitMulti", x, y, o)
}

// EvaluateMulti evaluates a compiled model with any number of inputs and
// outputs on x (one tensor per input) and y (one per output), in inference
// mode, and returns the logged values by name, as Keras's
// evaluate(return_dict=True): "loss" (the weighted total) and, with
// several outputs, each output's "<output>_loss" and metrics
// ("<output>_accuracy"); a single output's metric is "accuracy".
func (m *Model) EvaluateMulti(ctx context.Context, x, y []*tensor.Tensor, o EvaluateOptions) (map[string]float64, error) {
	if !m.train.compiled {
		return nil, fmt.Errorf("nn: EvaluateMulti: the model is not compiled (call Compile first)")
	}
	ev, err := m.evaluateOp(ctx, "EvaluateMulti", x, y, o)
	if err != nil {
		return nil, err
	}
	logs := map[string]float64{}
	for _, kv := range ev.values() {
		logs[kv.Key] = kv.Value
	}
	return logs, nil
}

// PredictMulti runs a model with any number of inputs and outputs on x
// (one tensor per input, each (N, input shape...)) in inference mode,
// batchSize samples at a time (default 32), and returns one new tensor per
// output, each (N, output shape...). It needs no Compile.
func (m *Model) PredictMulti(ctx context.Context, x []*tensor.Tensor, batchSize int) ([]*tensor.Tensor, error) {
	return m.predict(ctx, "PredictMulti", x, batchSize)
}

// weighted returns the output's share of the total loss, weight * loss
// (loss itself for weight 1).
func (h *head) weighted(loss float64) float64 {
	if h.weight == 1 {
		return loss
	}
	return h.weight * loss
}

// weightGrad scales the output's loss gradient by its weight, and returns
// its share of the total loss; weight 1 changes nothing.
func (h *head) weightGrad(loss float64, grad *tensor.Tensor) float64 {
	if h.weight == 1 {
		return loss
	}
	f := float32(h.weight)
	for i := range grad.Data {
		grad.Data[i] *= f
	}
	return h.weight * loss
}

// checkSamples validates samples xs (one tensor per model input) and
// targets ys (one per output) for the compiled model and returns their
// number of samples N. With one input and one output the tensors are
// named xName and yName, otherwise xName[i] and yName[i].
func (m *Model) checkSamples(xs, ys []*tensor.Tensor, xName, yName string) (int, error) {
	if len(xs) != len(m.inputs) {
		return 0, fmt.Errorf("%s holds %d tensors, the model has %d inputs (%s)", xName, len(xs), len(m.inputs), strings.Join(m.InputNames(), ", "))
	}
	if len(ys) != len(m.outputs) {
		return 0, fmt.Errorf("%s holds %d tensors, the model has %d outputs (%s)", yName, len(ys), len(m.outputs), strings.Join(m.OutputNames(), ", "))
	}
	name := func(base string, i, k int) string {
		if k == 1 {
			return base
		}
		return fmt.Sprintf("%s[%d]", base, i)
	}
	for i, x := range xs {
		if x == nil {
			return 0, fmt.Errorf("%s and %s must not be nil", name(xName, i, len(xs)), yName)
		}
	}
	for i, y := range ys {
		if y == nil {
			return 0, fmt.Errorf("%s and %s must not be nil", xName, name(yName, i, len(ys)))
		}
	}
	for i, x := range xs {
		xn, want := name(xName, i, len(xs)), m.inputs[i].shape
		if len(x.Shape) == len(want)+1 && x.Shape[1:].Equal(want) && x.Shape[0] == 0 {
			return 0, fmt.Errorf("%s holds no samples (shape %s)", xn, x.Shape)
		}
		if len(x.Shape) != len(want)+1 || !x.Shape[1:].Equal(want) || x.Shape[0] <= 0 || len(x.Data) != x.Shape.Size() {
			got := x.Shape.String()
			if len(x.Shape) > 1 {
				got = withN(x.Shape[1:])
			}
			return 0, fmt.Errorf("%s: got shape %s, want %s", xn, got, withN(want))
		}
		if x.Shape[0] != xs[0].Shape[0] {
			return 0, fmt.Errorf("%s has %d samples but %s has %d", xn, x.Shape[0], name(xName, 0, len(xs)), xs[0].Shape[0])
		}
	}
	n := xs[0].Shape[0]
	x0 := name(xName, 0, len(xs))
	for i, y := range ys {
		yn := name(yName, i, len(ys))
		if len(y.Shape) == 0 || len(y.Data) != y.Shape.Size() {
			return 0, fmt.Errorf("%s: bad shape %s", yn, y.Shape)
		}
		if y.Shape[0] != n {
			return 0, fmt.Errorf("%s has %d samples but %s has %d", x0, n, yn, y.Shape[0])
		}
		if tc, ok := m.train.heads[i].loss.(TargetChecker); ok {
			if err := tc.CheckTargets(m.outputs[i].shape, y); err != nil {
				return 0, fmt.Errorf("%s: %w", yn, err)
			}
		}
	}
	return n, nil
}
