package nn

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/tensor"
)

// Loss is a training objective. Compute returns the loss averaged over the
// batch and writes dL/dpred (of that mean) into grad, which the caller
// allocates with pred's shape. Compute cannot fail: Fit and Evaluate
// validate the targets first (see TargetChecker).
type Loss interface {
	// Name is the loss's Keras name ("sparse_categorical_crossentropy").
	Name() string
	// Compute returns the mean loss of pred (N, ...) against target (N, ...)
	// and writes its gradient into grad.
	Compute(pred, target *tensor.Tensor, grad *tensor.Tensor) float64
}

// TargetChecker is an optional interface of a Loss: Fit and Evaluate call
// CheckTargets once on the whole target tensor y (N, ...) before training,
// with the model's per-sample output shape, so that Compute never sees bad
// targets.
type TargetChecker interface {
	CheckTargets(out tensor.Shape, y *tensor.Tensor) error
}

// SparseCategoricalCrossentropy is the cross-entropy between integer class
// labels and predicted class scores. The prediction is (N, C); the targets
// are (N) or (N, 1) class indices in [0, C) stored as float32. With
// FromLogits, the predictions are raw scores and the loss applies a stable
// log-softmax; otherwise they are probabilities (a softmax output), which
// are normalized and clipped to [1e-7, 1-1e-7] as Keras does.
type SparseCategoricalCrossentropy struct {
	FromLogits bool
}

// Name returns "sparse_categorical_crossentropy".
func (SparseCategoricalCrossentropy) Name() string { return "sparse_categorical_crossentropy" }

// CheckTargets checks that out is (C) and that y holds N integer labels in
// [0, C).
func (SparseCategoricalCrossentropy) CheckTargets(out tensor.Shape, y *tensor.Tensor) error {
	if len(out) != 1 {
		return fmt.Errorf("sparse categorical crossentropy needs a model output of shape (classes,), got %s", out)
	}
	return checkLabels(y, out[0])
}

// checkLabels checks y (N) or (N, 1) for integer labels in [0, classes).
func checkLabels(y *tensor.Tensor, classes int) error {
	if !(len(y.Shape) == 1 || len(y.Shape) == 2 && y.Shape[1] == 1) {
		return fmt.Errorf("labels must have shape (N,) or (N, 1), got %s", y.Shape)
	}
	for i, v := range y.Data {
		if v != float32(math.Trunc(float64(v))) {
			return fmt.Errorf("label %v at index %d is not an integer class index", v, i)
		}
		if v < 0 || v >= float32(classes) {
			return fmt.Errorf("label %v at index %d is out of range for %d classes", v, i, classes)
		}
	}
	return nil
}

// Compute returns the mean cross-entropy of pred (N, C) against the labels
// target (N) or (N, 1), and writes its gradient into grad (N, C). Per row,
// in float64: from logits, loss = logsumexp(z) - z[y] and grad =
// (softmax(z) - onehot(y)) / N; from probabilities p, with S = sum(p) and
// q = p[y]/S clipped, loss = -log(q) and grad = (1/S - [j==y]/p[y]) / N
// (zero where the clip is active).
func (l SparseCategoricalCrossentropy) Compute(pred, target *tensor.Tensor, grad *tensor.Tensor) float64 {
	n := pred.Shape[0]
	c := pred.Size() / n
	if len(target.Data) != n || len(grad.Data) != len(pred.Data) {
		panic(fmt.Sprintf("nn: %s: pred %v, target %v, grad %v", l.Name(), pred.Shape, target.Shape, grad.Shape))
	}
	const eps = 1e-7
	invN := 1 / float64(n)
	var total float64
	for i := 0; i < n; i++ {
		z := pred.Data[i*c : (i+1)*c]
		g := grad.Data[i*c : (i+1)*c]
		y := int(target.Data[i])
		if y < 0 || y >= c {
			panic(fmt.Sprintf("nn: label %d at index %d is out of range for %d classes (targets were not checked)", y, i, c))
		}
		if l.FromLogits {
			mx := math.Inf(-1)
			for _, v := range z {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range z {
				sum += math.Exp(float64(v) - mx)
			}
			total += mx + math.Log(sum) - float64(z[y])
			for j, v := range z {
				p := math.Exp(float64(v)-mx) / sum
				if j == y {
					p--
				}
				g[j] = float32(p * invN)
			}
			continue
		}
		var s float64
		for _, v := range z {
			s += float64(v)
		}
		q := float64(z[y]) / s
		switch {
		case q < eps || math.IsNaN(q):
			total -= math.Log(eps)
			clear(g)
		case q > 1-eps:
			total -= math.Log(1 - eps)
			clear(g)
		default:
			total -= math.Log(q)
			for j := range g {
				d := 1 / s
				if j == y {
					d -= 1 / float64(z[y])
				}
				g[j] = float32(d * invN)
			}
		}
	}
	return total * invN
}

// MeanSquaredError is the mean of (pred - target)^2 over all elements; the
// target has pred's shape (or its size).
type MeanSquaredError struct{}

// Name returns "mean_squared_error".
func (MeanSquaredError) Name() string { return "mean_squared_error" }

// CheckTargets checks that each sample of y has as many values as out.
func (MeanSquaredError) CheckTargets(out tensor.Shape, y *tensor.Tensor) error {
	if len(y.Shape) == 0 || y.Shape[0] == 0 {
		return fmt.Errorf("targets have shape %s, want %s", y.Shape, withN(out))
	}
	if y.Size()/y.Shape[0] != out.Size() {
		return fmt.Errorf("targets have shape %s, want %s", y.Shape, withN(out))
	}
	return nil
}

// Compute returns mean((pred - target)^2) and writes 2 (pred - target) /
// size into grad. The sum is serial, in float64.
func (l MeanSquaredError) Compute(pred, target *tensor.Tensor, grad *tensor.Tensor) float64 {
	if len(target.Data) != len(pred.Data) || len(grad.Data) != len(pred.Data) {
		panic(fmt.Sprintf("nn: %s: pred %v, target %v, grad %v", l.Name(), pred.Shape, target.Shape, grad.Shape))
	}
	inv := 1 / float64(len(pred.Data))
	var sum float64
	t, g := target.Data[:len(pred.Data)], grad.Data[:len(pred.Data)]
	for i, p := range pred.Data {
		d := float64(p) - float64(t[i])
		sum += d * d
		g[i] = float32(2 * d * inv)
	}
	return sum * inv
}

// Accuracy returns the fraction of rows of pred (N, C) whose largest score
// (the first one on ties) is at the index given by labels (N) or (N, 1).
func Accuracy(pred, labels *tensor.Tensor) float64 {
	n := pred.Shape[0]
	if n == 0 {
		return 0
	}
	return float64(countCorrect(pred, labels)) / float64(n)
}

// countCorrect counts the rows of pred whose argmax equals the label.
func countCorrect(pred, labels *tensor.Tensor) int {
	n := pred.Shape[0]
	c := pred.Size() / n
	correct := 0
	for i := 0; i < n; i++ {
		row := pred.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if float32(best) == labels.Data[i] {
			correct++
		}
	}
	return correct
}
