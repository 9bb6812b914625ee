package datasets

import (
	"slices"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// TestResizeImage checks bilinear resampling with half-pixel centres and
// the three fits on small images whose results are worked out by hand.
func TestResizeImage(t *testing.T) {
	cases := []struct {
		name         string
		src          []float32
		sh, sw, h, w int
		fit          Fit
		want         []float32
	}{
		{"stretch 1x2 to 1x4", []float32{0, 1}, 1, 2, 1, 4, FitStretch, []float32{0, 0.25, 0.75, 1}},
		{"identity", []float32{1, 2, 3, 4}, 2, 2, 2, 2, FitCrop, []float32{1, 2, 3, 4}},
		{"crop 2x4 to 2x2 keeps the centre", []float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4, 2, 2, FitCrop, []float32{2, 3, 6, 7}},
		{"pad 2x4 to 4x4 letterboxes", []float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4, 4, 4, FitPad,
			[]float32{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}},
		{"pad 2x4 to 2x2 halves and pads", []float32{1, 1, 3, 3, 1, 1, 3, 3}, 2, 4, 2, 2, FitPad, []float32{1, 3, 0, 0}},
		{"stretch 2x2 to 1x1 averages", []float32{0, 1, 2, 3}, 2, 2, 1, 1, FitStretch, []float32{1.5}},
	}
	for _, c := range cases {
		dst := make([]float32, c.h*c.w)
		for i := range dst {
			dst[i] = -1 // every value must be written
		}
		resizeImage(c.src, c.sh, c.sw, 1, dst, c.h, c.w, c.fit)
		if !slices.Equal(dst, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, dst, c.want)
		}
	}
}

// TestResizeDataset checks Resize on a dataset: pad is PadTo (no scaling,
// an error when shrinking), crop and stretch resample every image and
// channel.
func TestResizeDataset(t *testing.T) {
	d := &Dataset{Name: "t", X: &tensor.Tensor{Shape: tensor.Shape{2, 2, 2, 2}, Data: []float32{
		1, 10, 1, 10, 1, 10, 1, 10, 2, 20, 2, 20, 2, 20, 2, 20}},
		Y: &tensor.Tensor{Shape: tensor.Shape{2}, Data: []float32{0, 1}}, Classes: 2, ClassNames: []string{"a", "b"}}
	r, err := Resize(d, 3, 3, FitStretch)
	if err != nil {
		t.Fatal(err)
	}
	if !r.X.Shape.Equal([]int{2, 3, 3, 2}) {
		t.Fatalf("shape %v", r.X.Shape)
	}
	for i := 0; i < 18; i++ {
		if want := []float32{1, 10}[i%2]; r.X.Data[i] != want {
			t.Fatalf("image 0 value %d = %v, want %v", i, r.X.Data[i], want)
		}
		if want := []float32{2, 20}[i%2]; r.X.Data[18+i] != want {
			t.Fatalf("image 1 value %d = %v, want %v", i, r.X.Data[18+i], want)
		}
	}
	if _, err := Resize(d, 1, 1, FitPad); err == nil {
		t.Error("pad to a smaller size: no error")
	}
	if p, err := Resize(d, 4, 4, FitPad); err != nil || p.X.Data[0] != 0 || p.X.Data[(1*4+1)*2] != 1 {
		t.Errorf("pad 2x2 to 4x4: %v", err)
	}
	table := &Dataset{Name: "tab", X: &tensor.Tensor{Shape: tensor.Shape{1, 3}, Data: []float32{1, 2, 3}},
		Y: &tensor.Tensor{Shape: tensor.Shape{1}, Data: []float32{0}}, Classes: 1, ClassNames: []string{"a"}}
	if _, err := Resize(table, 2, 2, FitCrop); err == nil {
		t.Error("resizing feature vectors: no error")
	}
	if _, err := ParseFit("squash"); err == nil {
		t.Error("ParseFit(squash): no error")
	}
}
