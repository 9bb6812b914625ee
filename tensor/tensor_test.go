package tensor

import "testing"

func TestShape(t *testing.T) {
	s := Shape{2, 3, 4}
	if s.Size() != 24 || (Shape{}).Size() != 1 {
		t.Errorf("Size: %d %d", s.Size(), Shape{}.Size())
	}
	if !s.Equal(Shape{2, 3, 4}) || s.Equal(Shape{2, 3}) || s.Equal(Shape{2, 3, 5}) {
		t.Error("Equal")
	}
	if got := s.String(); got != "(2, 3, 4)" {
		t.Errorf("String %q", got)
	}
	if got := (Shape{7}).String(); got != "(7,)" {
		t.Errorf("String %q", got)
	}
	if (Shape{2, 0}).Valid() == nil || s.Valid() != nil {
		t.Error("Valid")
	}
	c := s.Clone()
	c[0] = 9
	if s[0] != 2 {
		t.Error("Clone shares memory")
	}
}

func TestTensorViewsAndEnsure(t *testing.T) {
	x := New(4, 3)
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	b := x.Batch(1, 3)
	if !b.Shape.Equal(Shape{2, 3}) || b.Data[0] != 3 || len(b.Data) != 6 {
		t.Errorf("Batch: %v %v", b.Shape, b.Data)
	}
	v := x.View(12)
	v.Data[0] = 42
	if x.Data[0] != 42 {
		t.Error("View does not share data")
	}
	if _, err := FromSlice(make([]float32, 5), 2, 3); err == nil {
		t.Error("FromSlice accepted 5 values for (2, 3)")
	}
	var buf *Tensor
	a := Ensure(&buf, 2, 5)
	p := &a.Data[0]
	Ensure(&buf, 3, 3) // smaller: storage reused
	if &buf.Data[0] != p || !buf.Shape.Equal(Shape{3, 3}) || len(buf.Data) != 9 {
		t.Error("Ensure did not reuse storage")
	}
	Ensure(&buf, 4, 4)
	if len(buf.Data) != 16 {
		t.Error("Ensure did not grow")
	}
	defer func() {
		if recover() == nil {
			t.Error("View of a different size did not panic")
		}
	}()
	x.View(5)
}
