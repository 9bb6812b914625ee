package datasets

import (
	"strings"
	"testing"
)

// smallSet builds a 3-sample 2x2 dataset.
func smallSet(t *testing.T) *Dataset {
	t.Helper()
	images := &IDX{Dims: []int{3, 2, 2}, Data: []byte{0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}}
	labels := &IDX{Dims: []int{3}, Data: []byte{2, 0, 1}}
	d, err := FromIDX("small", images, labels, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFromIDX(t *testing.T) {
	d := smallSet(t)
	if !d.X.Shape.Equal([]int{3, 2, 2, 1}) || !d.Y.Shape.Equal([]int{3}) || d.Len() != 3 || d.Classes != 3 {
		t.Fatalf("shapes X %v Y %v, len %d, classes %d", d.X.Shape, d.Y.Shape, d.Len(), d.Classes)
	}
	if d.X.Data[0] != 0 || d.X.Data[1] != 1 || d.X.Data[2] != float32(51)/255 || d.X.Data[3] != float32(102)/255 {
		t.Errorf("pixels %v, want 0, 1, 0.2, 0.4", d.X.Data[:4])
	}
	for i, want := range []float32{2, 0, 1} {
		if d.Y.Data[i] != want {
			t.Errorf("label %d = %v, want %v", i, d.Y.Data[i], want)
		}
	}

	bad := []struct {
		name           string
		images, labels *IDX
		want           string
	}{
		{"count mismatch", &IDX{Dims: []int{2, 1, 1}, Data: []byte{1, 2}}, &IDX{Dims: []int{3}, Data: []byte{0, 1, 2}}, "2 images but 3 labels"},
		{"label out of range", &IDX{Dims: []int{2, 1, 1}, Data: []byte{1, 2}}, &IDX{Dims: []int{2}, Data: []byte{0, 3}}, "label 3 of sample 1 is out of range"},
		{"images 2-d", &IDX{Dims: []int{2, 1}, Data: []byte{1, 2}}, &IDX{Dims: []int{2}, Data: []byte{0, 1}}, "want 3"},
		{"labels 2-d", &IDX{Dims: []int{2, 1, 1}, Data: []byte{1, 2}}, &IDX{Dims: []int{2, 1}, Data: []byte{0, 1}}, "want 1"},
		{"data size", &IDX{Dims: []int{2, 1, 1}, Data: []byte{1}}, &IDX{Dims: []int{2}, Data: []byte{0, 1}}, "do not match"},
	}
	for _, c := range bad {
		if _, err := FromIDX("x", c.images, c.labels, []string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestSubsetTakeClone(t *testing.T) {
	d := smallSet(t)
	s := d.Subset(1, 3)
	if s.Len() != 2 || !s.X.Shape.Equal([]int{2, 2, 2, 1}) || s.Y.Data[0] != 0 || s.Y.Data[1] != 1 {
		t.Fatalf("subset: len %d shape %v labels %v", s.Len(), s.X.Shape, s.Y.Data)
	}
	if &s.X.Data[0] != &d.X.Data[4] || &s.Y.Data[0] != &d.Y.Data[1] {
		t.Error("subset copies data, want views")
	}
	if tk := d.Take(2); tk.Len() != 2 || &tk.X.Data[0] != &d.X.Data[0] {
		t.Errorf("Take(2): len %d", tk.Len())
	}
	if tk := d.Take(10); tk.Len() != 3 {
		t.Errorf("Take(10) of 3: len %d, want 3", tk.Len())
	}
	if e := d.Subset(2, 2); e.Len() != 0 {
		t.Errorf("empty subset: len %d", e.Len())
	}
	c := d.Clone()
	c.X.Data[0], c.Y.Data[0], c.ClassNames[0] = 9, 9, "z"
	if d.X.Data[0] != 0 || d.Y.Data[0] != 2 || d.ClassNames[0] != "a" {
		t.Error("Clone shares memory with the original")
	}
	for _, r := range [][2]int{{-1, 1}, {2, 1}, {0, 4}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Subset(%d, %d) of 3 did not panic", r[0], r[1])
				}
			}()
			d.Subset(r[0], r[1])
		}()
	}
}
