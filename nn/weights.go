package nn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/goqat/goqat/tensor"
)

// checkWeights validates FitOptions.ClassWeight and SampleWeight for n
// training samples and reports whether Fit weights the loss (docs/DESIGN.md,
// Training callbacks).
func (m *Model) checkWeights(o *FitOptions, n int) (bool, error) {
	if o.ClassWeight == nil && o.SampleWeight == nil {
		return false, nil
	}
	if o.ClassWeight != nil {
		if !isSparseCE(m.train.loss) {
			return false, fmt.Errorf("nn: Fit: ClassWeight needs integer class labels (loss SparseCategoricalCrossentropy), not %s", m.train.loss.Name())
		}
		classes := m.outputs[0].shape.Size()
		for _, c := range slices.Sorted(mapsKeys(o.ClassWeight)) {
			w := o.ClassWeight[c]
			if c < 0 || c >= classes {
				return false, fmt.Errorf("nn: Fit: ClassWeight has class %d, out of range for %d classes", c, classes)
			}
			if !(w >= 0) || math.IsInf(w, 0) {
				return false, fmt.Errorf("nn: Fit: ClassWeight of class %d is %v, want a finite number >= 0", c, w)
			}
		}
	}
	if sw := o.SampleWeight; sw != nil {
		if o.Batches != nil {
			return false, fmt.Errorf("nn: Fit: SampleWeight needs in-memory samples, not a batch source (use ClassWeight, or weight the batches' samples yourself)")
		}
		if !(len(sw.Shape) == 1 || len(sw.Shape) == 2 && sw.Shape[1] == 1) || sw.Shape[0] != n || len(sw.Data) != n {
			return false, fmt.Errorf("nn: Fit: SampleWeight has shape %s, want (%d) or (%d, 1), one weight per sample", sw.Shape, n, n)
		}
		for i, w := range sw.Data {
			if !(w >= 0) || math.IsInf(float64(w), 0) {
				return false, fmt.Errorf("nn: Fit: SampleWeight %v at index %d, want a finite number >= 0", w, i)
			}
		}
	}
	return true, nil
}

// mapsKeys returns the keys of a class-weight map.
func mapsKeys(m map[int]float64) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// batchWeights returns the weight of each sample of a batch: the product
// of its sample weight (sample idx[i]) and its label's class weight.
func (m *Model) batchWeights(o *FitOptions, yb *tensor.Tensor, idx []int) []float64 {
	ts := &m.train
	b := yb.Shape[0]
	ts.weights = slices.Grow(ts.weights[:0], b)[:b]
	w := ts.weights
	for i := range w {
		w[i] = 1
	}
	if o.SampleWeight != nil {
		for i, j := range idx {
			w[i] = float64(o.SampleWeight.Data[j])
		}
	}
	if o.ClassWeight != nil {
		for i := range w {
			if cw, ok := o.ClassWeight[int(yb.Data[i])]; ok {
				w[i] *= cw
			}
		}
	}
	return w
}

// weightedLoss returns sum_i w[i] * loss_i / N for pred (N, ...) against
// target (N, ...), loss_i being l's loss of sample i alone, and writes its
// gradient into grad (N, ...): sample i's gradient of loss_i scaled by
// w[i] / N. This is Keras's sample weighting with the default
// "sum_over_batch_size" reduction. It holds for a loss that is the mean
// over samples of per-sample losses, as SparseCategoricalCrossentropy and
// MeanSquaredError are (MeanSquaredError's per-sample loss is the mean over
// the sample's values, as in Keras).
func weightedLoss(l Loss, pred, target *tensor.Tensor, w []float64, grad *tensor.Tensor) float64 {
	n := pred.Shape[0]
	pp, tp := len(pred.Data)/n, len(target.Data)/n
	prow := tensor.Tensor{Shape: append(tensor.Shape{1}, pred.Shape[1:]...)}
	trow := tensor.Tensor{Shape: append(tensor.Shape{1}, target.Shape[1:]...)}
	grow := tensor.Tensor{Shape: prow.Shape}
	var total float64
	for i := 0; i < n; i++ {
		prow.Data = pred.Data[i*pp : (i+1)*pp]
		trow.Data = target.Data[i*tp : (i+1)*tp]
		grow.Data = grad.Data[i*pp : (i+1)*pp]
		li := l.Compute(&prow, &trow, &grow)
		f := w[i] / float64(n)
		total += w[i] * li
		for j, g := range grow.Data {
			grow.Data[j] = float32(float64(g) * f)
		}
	}
	return total / float64(n)
}

// BalancedClassWeights returns scikit-learn's "balanced" class weights for
// the labels y (N) or (N, 1) of classes classes: n / (classes * count(c))
// for each class c that occurs (absent classes are left out, so they
// weigh 1).
func BalancedClassWeights(y *tensor.Tensor, classes int) (map[int]float64, error) {
	if y == nil || len(y.Data) == 0 {
		return nil, fmt.Errorf("nn: balanced class weights of no labels")
	}
	if classes < 1 {
		return nil, fmt.Errorf("nn: balanced class weights for %d classes", classes)
	}
	if err := checkLabels(y, classes); err != nil {
		return nil, fmt.Errorf("nn: balanced class weights: %w", err)
	}
	counts := make([]int, classes)
	for _, v := range y.Data {
		counts[int(v)]++
	}
	n := float64(len(y.Data))
	cw := map[int]float64{}
	for c, k := range counts {
		if k > 0 {
			cw[c] = n / (float64(classes) * float64(k))
		}
	}
	return cw, nil
}

// ParseClassWeight parses class weights written "0:1,1:5" (class:weight,
// comma separated), each class once, weights finite and >= 0.
func ParseClassWeight(s string) (map[int]float64, error) {
	cw := map[int]float64{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("class weight %q: want class:weight, e.g. 0:1,1:5", part)
		}
		c, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || c < 0 {
			return nil, fmt.Errorf("class weight %q: class %q is not a class index", part, k)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("class weight %q: weight %q is not a finite number >= 0", part, v)
		}
		if _, dup := cw[c]; dup {
			return nil, fmt.Errorf("class weight: class %d given twice", c)
		}
		cw[c] = w
	}
	return cw, nil
}
