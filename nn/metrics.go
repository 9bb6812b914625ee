package nn

import (
	"fmt"
	"strings"

	"github.com/goqat/goqat/tensor"
)

// ConfusionMatrix counts how often each true class was predicted as each
// class (docs/DESIGN.md, Metrics): Counts[t*Classes+p] is the number of
// samples of true class t predicted as p, the prediction being the
// highest score (the first one on ties, as Accuracy). Precision, recall
// and F1 per class and their macro averages derive from it.
type ConfusionMatrix struct {
	// Classes is the number of classes.
	Classes int
	// Counts holds Classes x Classes counts, row = true class, column =
	// predicted class.
	Counts []int
}

// NewConfusionMatrix returns an empty matrix for classes classes (at least
// 1).
func NewConfusionMatrix(classes int) (*ConfusionMatrix, error) {
	if classes < 1 || classes > 1<<15 {
		return nil, fmt.Errorf("nn: confusion matrix of %d classes, want 1 to 32768", classes)
	}
	return &ConfusionMatrix{Classes: classes, Counts: make([]int, classes*classes)}, nil
}

// checkScores checks scores (N, Classes) against labels (N) or (N, 1).
func checkScores(scores, labels *tensor.Tensor, classes int) error {
	if scores == nil || labels == nil {
		return fmt.Errorf("nn: metrics of nil scores or labels")
	}
	if len(scores.Shape) != 2 || scores.Shape[1] != classes || len(scores.Data) != scores.Shape.Size() {
		return fmt.Errorf("nn: scores of shape %s, want (N, %d)", scores.Shape, classes)
	}
	if len(labels.Data) != scores.Shape[0] {
		return fmt.Errorf("nn: %d labels for %d rows of scores", len(labels.Data), scores.Shape[0])
	}
	return checkLabels(labels, classes)
}

// Add counts the rows of scores (N, Classes) against their labels (N) or
// (N, 1), class indices as float32.
func (c *ConfusionMatrix) Add(scores, labels *tensor.Tensor) error {
	if err := checkScores(scores, labels, c.Classes); err != nil {
		return err
	}
	for i, y := range labels.Data {
		c.Counts[int(y)*c.Classes+argmax(scores.Data[i*c.Classes:(i+1)*c.Classes])]++
	}
	return nil
}

// argmax returns the index of the largest value, the first one on ties.
func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// At returns the number of samples of true class t predicted as p.
func (c *ConfusionMatrix) At(t, p int) int { return c.Counts[t*c.Classes+p] }

// Total returns the number of samples counted.
func (c *ConfusionMatrix) Total() int {
	n := 0
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Accuracy returns the share of samples predicted as their true class (0
// when empty).
func (c *ConfusionMatrix) Accuracy() float64 {
	right := 0
	for k := 0; k < c.Classes; k++ {
		right += c.At(k, k)
	}
	if n := c.Total(); n > 0 {
		return float64(right) / float64(n)
	}
	return 0
}

// ClassMetrics are the precision, recall and F1 of one class (or their
// macro averages).
type ClassMetrics struct {
	// Precision is TP / (TP + FP): of the samples predicted as the class,
	// the share that are of it (0 when none is predicted as it).
	Precision float64
	// Recall is TP / (TP + FN): of the samples of the class, the share
	// predicted as it (0 when there are none).
	Recall float64
	// F1 is 2PR / (P + R), the harmonic mean (0 when both are 0).
	F1 float64
	// Support is the number of samples of the class (for a macro average:
	// of all the classes averaged).
	Support int
}

// PerClass returns the precision, recall and F1 of every class.
func (c *ConfusionMatrix) PerClass() []ClassMetrics {
	out := make([]ClassMetrics, c.Classes)
	for k := range out {
		tp := c.At(k, k)
		predicted, actual := 0, 0
		for j := 0; j < c.Classes; j++ {
			predicted += c.At(j, k)
			actual += c.At(k, j)
		}
		m := ClassMetrics{Support: actual}
		if predicted > 0 {
			m.Precision = float64(tp) / float64(predicted)
		}
		if actual > 0 {
			m.Recall = float64(tp) / float64(actual)
		}
		if s := m.Precision + m.Recall; s > 0 {
			m.F1 = 2 * m.Precision * m.Recall / s
		}
		out[k] = m
	}
	return out
}

// Macro returns the unweighted means of precision, recall and F1 over the
// classes that occur as a label or as a prediction (scikit-learn's macro
// average, a class's undefined precision or recall counting 0), and the
// number of samples.
func (c *ConfusionMatrix) Macro() ClassMetrics {
	var m ClassMetrics
	n := 0
	for k, pc := range c.PerClass() {
		predicted := 0
		for j := 0; j < c.Classes; j++ {
			predicted += c.At(j, k)
		}
		if pc.Support == 0 && predicted == 0 {
			continue
		}
		m.Precision += pc.Precision
		m.Recall += pc.Recall
		m.F1 += pc.F1
		m.Support += pc.Support
		n++
	}
	if n > 0 {
		m.Precision /= float64(n)
		m.Recall /= float64(n)
		m.F1 /= float64(n)
	}
	return m
}

// Format returns the per-class table (precision, recall, F1, support) with
// the macro averages, then the matrix (rows true classes, columns
// predicted), classes named by names (their indices where names is short
// or a name is empty).
func (c *ConfusionMatrix) Format(names []string) string {
	label := make([]string, c.Classes)
	w := len("macro avg")
	for k := range label {
		label[k] = fmt.Sprint(k)
		if k < len(names) && names[k] != "" {
			label[k] = names[k]
		}
		w = max(w, len(label[k]))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %9s  %9s  %9s  %7s\n", w, "class", "precision", "recall", "f1", "support")
	for k, m := range c.PerClass() {
		fmt.Fprintf(&b, "%-*s  %9.4f  %9.4f  %9.4f  %7d\n", w, label[k], m.Precision, m.Recall, m.F1, m.Support)
	}
	m := c.Macro()
	fmt.Fprintf(&b, "%-*s  %9.4f  %9.4f  %9.4f  %7d\n", w, "macro avg", m.Precision, m.Recall, m.F1, m.Support)
	cw := len(fmt.Sprint(c.Total()))
	for _, l := range label {
		cw = max(cw, len(l))
	}
	fmt.Fprintf(&b, "\nconfusion matrix (rows: true class, columns: predicted)\n%-*s", w, "")
	for _, l := range label {
		fmt.Fprintf(&b, " %*s", cw, l)
	}
	b.WriteByte('\n')
	for t := 0; t < c.Classes; t++ {
		fmt.Fprintf(&b, "%-*s", w, label[t])
		for p := 0; p < c.Classes; p++ {
			fmt.Fprintf(&b, " %*d", cw, c.At(t, p))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TopKCorrect counts the rows of scores (N, C) whose label (N) or (N, 1)
// is among the k highest scores (docs/DESIGN.md, Metrics). Ties are broken
// by class index, as for Accuracy: the label ranks after every class with
// a higher score and every class with an equal score and a lower index,
// so with finite scores TopKCorrect with k = 1 counts exactly what
// Accuracy counts. k above C
// counts every row.
func TopKCorrect(scores, labels *tensor.Tensor, k int) (int, error) {
	if k < 1 {
		return 0, fmt.Errorf("nn: top-k accuracy with k = %d, want at least 1", k)
	}
	if scores == nil || len(scores.Shape) != 2 {
		return 0, fmt.Errorf("nn: top-k accuracy needs scores of shape (N, classes)")
	}
	c := scores.Shape[1]
	if err := checkScores(scores, labels, c); err != nil {
		return 0, err
	}
	right := 0
	for i, y := range labels.Data {
		row := scores.Data[i*c : (i+1)*c]
		l := int(y)
		s := row[l]
		rank := 0
		for j, v := range row {
			if v > s || v == s && j < l {
				rank++
			}
		}
		if rank < k {
			right++
		}
	}
	return right, nil
}
