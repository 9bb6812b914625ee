package datasets

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// TestPadTo pads 2x3 two-channel images to 5x6 and checks every value:
// the image centred ((5-2)/2 = 1 row above, (6-3)/2 = 1 column left),
// zeros elsewhere, labels shared.
func TestPadTo(t *testing.T) {
	n, h, w, c := 3, 2, 3, 2
	x := tensor.New(n, h, w, c)
	for i := range x.Data {
		x.Data[i] = float32(i + 1)
	}
	d := &Dataset{Name: "t", X: x, Y: tensor.New(n), Classes: 2, ClassNames: []string{"a", "b"}}
	p, err := PadTo(d, 5, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !p.X.Shape.Equal(tensor.Shape{n, 5, 6, c}) || p.Y != d.Y || p.Classes != 2 {
		t.Fatalf("padded shape %v, labels shared %v, classes %d", p.X.Shape, p.Y == d.Y, p.Classes)
	}
	for i := range n {
		for y := range 5 {
			for xx := range 6 {
				for ch := range c {
					want := float32(0)
					if sy, sx := y-1, xx-1; sy >= 0 && sy < h && sx >= 0 && sx < w {
						want = x.Data[((i*h+sy)*w+sx)*c+ch]
					}
					if got := p.X.Data[((i*5+y)*6+xx)*c+ch]; got != want {
						t.Fatalf("image %d (%d,%d,%d) = %v, want %v", i, y, xx, ch, got, want)
					}
				}
			}
		}
	}
	if same, err := PadTo(d, h, w); err != nil || same != d {
		t.Errorf("padding to the same size: %v, %v (want d itself)", same == d, err)
	}
	if _, err := PadTo(d, 1, 6); err == nil || !strings.Contains(err.Error(), "smaller") {
		t.Errorf("padding to fewer rows: %v", err)
	}
	if _, err := PadTo(d, 1<<30, 1<<30); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("padding to 2^30 x 2^30: %v", err)
	}
}
