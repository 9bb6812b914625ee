package nn

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// head is the training configuration of one model output: its loss, its
// weight in the total loss and its metrics (docs/DESIGN.md, Several inputs
// and outputs).
type head struct {
	name     string  // the output's name (Model.OutputNames), the prefix of its logs
	lossKey  string  // name + "_loss"
	accKey   string  // name + "_accuracy"
	loss     Loss    // the output's loss
	weight   float64 // the loss's weight in the total loss
	accuracy bool    // the "accuracy" metric
}

// compileHeads resolves CompileOptions into one head per model output:
// Loss for every output, overridden by Losses; weight 1, overridden by
// LossWeights; Metrics for every output plus OutputMetrics. Keys name an
// output (Model.OutputNames) or, when no output has that name, give its
// index ("0", "1", ...).
func (m *Model) compileHeads(o CompileOptions) ([]head, error) {
	names := m.OutputNames()
	heads := make([]head, len(names))
	for i := range heads {
		heads[i] = head{name: names[i], lossKey: names[i] + "_loss", accKey: names[i] + "_accuracy", loss: o.Loss, weight: 1}
	}
	for _, key := range slices.Sorted(maps.Keys(o.Losses)) {
		idx, err := m.outputIndex("Losses", key)
		if err != nil {
			return nil, err
		}
		if o.Losses[key] == nil {
			return nil, fmt.Errorf("nn: Compile: Losses[%q] is nil", key)
		}
		for _, i := range idx {
			heads[i].loss = o.Losses[key]
		}
	}
	for _, key := range slices.Sorted(maps.Keys(o.LossWeights)) {
		idx, err := m.outputIndex("LossWeights", key)
		if err != nil {
			return nil, err
		}
		w := o.LossWeights[key]
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("nn: Compile: LossWeights[%q] is %v, want a finite number >= 0", key, w)
		}
		for _, i := range idx {
			heads[i].weight = w
		}
	}
	for i := range heads {
		if heads[i].loss != nil {
			continue
		}
		if len(heads) == 1 {
			return nil, fmt.Errorf("nn: Compile: no loss")
		}
		return nil, fmt.Errorf("nn: Compile: no loss for output %q (set Loss for every output or Losses[%q])", heads[i].name, heads[i].name)
	}
	for i := range heads {
		for _, name := range o.Metrics {
			if err := heads[i].addMetric(name, len(heads)); err != nil {
				return nil, err
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(o.OutputMetrics)) {
		idx, err := m.outputIndex("OutputMetrics", key)
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			for _, name := range o.OutputMetrics[key] {
				if err := heads[i].addMetric(name, len(heads)); err != nil {
					return nil, err
				}
			}
		}
	}
	return heads, nil
}

// addMetric adds a metric by its Keras name to the head of a model with
// outputs outputs.
func (h *head) addMetric(name string, outputs int) error {
	switch name {
	case "accuracy", "acc":
		if !isSparseCE(h.loss) {
			if outputs > 1 {
				return fmt.Errorf("nn: Compile: metric %q of output %q needs integer class labels (loss SparseCategoricalCrossentropy), not %s", name, h.name, h.loss.Name())
			}
			return fmt.Errorf("nn: Compile: metric %q needs integer class labels (loss SparseCategoricalCrossentropy), not %s", name, h.loss.Name())
		}
		h.accuracy = true
	default:
		return fmt.Errorf("nn: Compile: unknown metric %q (supported: accuracy)", name)
	}
	return nil
}

// outputIndex returns the outputs a CompileOptions key names: those whose
// name is key or, if none, the output whose index key is.
func (m *Model) outputIndex(field, key string) ([]int, error) {
	var idx []int
	for i, y := range m.outputs {
		if nodeName(y) == key {
			idx = append(idx, i)
		}
	}
	if len(idx) > 0 {
		return idx, nil
	}
	if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(m.outputs) && key == strconv.Itoa(i) {
		return []int{i}, nil
	}
	return nil, fmt.Errorf("nn: Compile: %s names output %q; the model's outputs are %s (or their indices 0 to %d)", field, key, strings.Join(m.OutputNames(), ", "), len(m.outputs)-1)
}

// headSum is the running sums of one output over an epoch or an
// evaluation: its unweighted loss times the samples, its correct
// predictions.
type headSum struct {
	loss    float64
	correct int
}

// logValues appends the logged values after prefix ("" or "val_") to vals
// and returns it: "loss" (the total loss); with several outputs each
// output's unweighted "<output>_loss"; then each output's accuracy, named
// "accuracy" for a single output and "<output>_accuracy" otherwise. loss is
// the total loss; sums and n give the outputs' means; correct, for a single
// output, is its count of correct predictions (Fit keeps it in its
// checkpointed position).
func (ts *trainState) logValues(vals []KV, prefix string, loss float64, sums []headSum, correct, n int) []KV {
	vals = append(vals, KV{prefix + "loss", loss})
	if len(ts.heads) == 1 {
		if ts.heads[0].accuracy {
			vals = append(vals, KV{prefix + "accuracy", float64(correct) / float64(n)})
		}
		return vals
	}
	for i, h := range ts.heads {
		vals = append(vals, KV{prefix + h.lossKey, sums[i].loss / float64(n)})
	}
	for i, h := range ts.heads {
		if h.accuracy {
			vals = append(vals, KV{prefix + h.accKey, float64(sums[i].correct) / float64(n)})
		}
	}
	return vals
}

// logNames lists the names Fit logs at every epoch end (Training.Metrics):
// the training values, then the same after "val_" with validation data.
func (ts *trainState) logNames(validation bool) []string {
	sums := make([]headSum, len(ts.heads))
	var names []string
	for _, kv := range ts.logValues(nil, "", 0, sums, 0, 1) {
		names = append(names, kv.Key)
	}
	if validation {
		for _, kv := range ts.logValues(nil, "val_", 0, sums, 0, 1) {
			names = append(names, kv.Key)
		}
	}
	return names
}

// checkHeadNames reports an error if two outputs of a model with several
// outputs share a name, which would make their logs collide.
func (ts *trainState) checkHeadNames() error {
	if len(ts.heads) < 2 {
		return nil
	}
	for i, h := range ts.heads {
		for j := range i {
			if ts.heads[j].name == h.name {
				return fmt.Errorf("outputs %d and %d are both %q, so their logs would collide (use distinct output layers)", j, i, h.name)
			}
		}
	}
	return nil
}
