package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestConfusionMatrixByHand(t *testing.T) {
	// True / predicted: 0->0 x2, 0->1, 1->1 x3, 2->0, 2->2; class 3 never
	// occurs, as a label or a prediction.
	labels := fromSlice([]float32{0, 0, 0, 1, 1, 1, 2, 2}, 8, 1)
	pred := []int{0, 0, 1, 1, 1, 1, 0, 2}
	scores := tensor.New(8, 4)
	for i, p := range pred {
		scores.Data[i*4+p] = 1
		scores.Data[i*4+3] = -1
	}
	cm, err := NewConfusionMatrix(4)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Add(scores, labels); err != nil {
		t.Fatal(err)
	}
	want := []int{2, 1, 0, 0, 0, 3, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}
	for i, v := range want {
		if cm.Counts[i] != v {
			t.Fatalf("counts %v, want %v", cm.Counts, want)
		}
	}
	if cm.Total() != 8 || cm.Accuracy() != 6.0/8 {
		t.Errorf("total %d, accuracy %v", cm.Total(), cm.Accuracy())
	}
	f1 := func(p, r float64) float64 { return 2 * p * r / (p + r) }
	pc := cm.PerClass()
	wantPC := []ClassMetrics{
		{2.0 / 3, 2.0 / 3, f1(2.0/3, 2.0/3), 3},
		{3.0 / 4, 1, f1(3.0/4, 1), 3},
		{1, 0.5, f1(1, 0.5), 2},
		{0, 0, 0, 0},
	}
	close := func(a, b ClassMetrics) bool {
		return math.Abs(a.Precision-b.Precision) < 1e-12 && math.Abs(a.Recall-b.Recall) < 1e-12 && math.Abs(a.F1-b.F1) < 1e-12 && a.Support == b.Support
	}
	for k := range wantPC {
		if !close(pc[k], wantPC[k]) {
			t.Errorf("class %d: %+v, want %+v", k, pc[k], wantPC[k])
		}
	}
	// Class 3 is left out of the macro average.
	macro := ClassMetrics{(2.0/3 + 3.0/4 + 1) / 3, (2.0/3 + 1 + 0.5) / 3, (wantPC[0].F1 + wantPC[1].F1 + wantPC[2].F1) / 3, 8}
	if m := cm.Macro(); !close(m, macro) {
		t.Errorf("macro %+v, want %+v", m, macro)
	}
	got := cm.Format([]string{"cat", "dog", ""})
	wantText := `class      precision     recall         f1  support
cat           0.6667     0.6667     0.6667        3
dog           0.7500     1.0000     0.8571        3
2             1.0000     0.5000     0.6667        2
3             0.0000     0.0000     0.0000        0
macro avg     0.8056     0.7222     0.7302        8

confusion matrix (rows: true class, columns: predicted)
          cat dog   2   3
cat         2   1   0   0
dog         0   3   0   0
2           1   0   1   0
3           0   0   0   0
`
	if got != wantText {
		t.Errorf("Format:\n%s\nwant:\n%s", got, wantText)
	}
	if err := cm.Add(tensor.New(2, 3), labels); err == nil {
		t.Errorf("scores of 3 classes into a matrix of 4: no error")
	}
	if err := cm.Add(scores, fromSlice([]float32{0, 0, 0, 1, 1, 1, 2, 4}, 8)); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("a label out of range: error %v", err)
	}
	if _, err := NewConfusionMatrix(0); err == nil {
		t.Errorf("0 classes: no error")
	}
}

func TestTopKCorrect(t *testing.T) {
	scores := fromSlice([]float32{
		0.1, 0.5, 0.4, // label 2: second
		3, 3, 3, // label 2: ties, ranks after 0 and 1: third
		1, 2, 3, // label 0: third
		5, 5, 1, // label 0: ties with 1 but lower index: first
	}, 4, 3)
	labels := fromSlice([]float32{2, 2, 0, 0}, 4)
	for k, want := range []int{0, 1, 2, 4, 4} {
		if k == 0 {
			continue
		}
		got, err := TopKCorrect(scores, labels, k)
		if err != nil || got != want {
			t.Errorf("top-%d: %d (%v), want %d", k, got, err, want)
		}
	}
	if _, err := TopKCorrect(scores, labels, 0); err == nil {
		t.Errorf("k = 0: no error")
	}
	// Top-1 is Accuracy, ties included.
	r := rand.New(rand.NewPCG(3, 4))
	s, y := tensor.New(500, 5), tensor.New(500)
	for i := range s.Data {
		s.Data[i] = float32(r.IntN(3)) // many ties
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(5))
	}
	top1, err := TopKCorrect(s, y, 1)
	if err != nil || top1 != countCorrect(s, y) {
		t.Errorf("top-1 %d (%v), accuracy counts %d", top1, err, countCorrect(s, y))
	}
	cm, _ := NewConfusionMatrix(5)
	if err := cm.Add(s, y); err != nil || cm.Accuracy() != Accuracy(s, y) {
		t.Errorf("confusion accuracy %v (%v), Accuracy %v", cm.Accuracy(), err, Accuracy(s, y))
	}
}
