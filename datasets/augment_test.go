package datasets

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestParseAugment(t *testing.T) {
	for spec, want := range map[string]string{
		"":                                 "none",
		"none":                             "none",
		"flip":                             "flip",
		"crop":                             "crop:4",
		"crop:2, flip":                     "crop:2,flip",
		"resized-crop":                     "resized-crop:0.75",
		"resized-crop:0.5,crop:4,flip":     "resized-crop:0.5,crop:4,flip",
		"flip,resized-crop:1":              "flip,resized-crop:1",
		" crop:3 , resized-crop:0.9 ,flip": "crop:3,resized-crop:0.9,flip",
	} {
		a, err := ParseAugment(spec, 7)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if got := a.String(); got != want {
			t.Errorf("%q: got %q, want %q", spec, got, want)
		}
		if a != nil {
			if a.Seed != 7 {
				t.Errorf("%q: seed %d", spec, a.Seed)
			}
			b, err := ParseAugment(a.String(), 7)
			if err != nil || b.String() != want {
				t.Errorf("%q: round trip %v %v", spec, b, err)
			}
		}
	}
	for spec, msg := range map[string]string{
		"crop:0":           "crop padding",
		"crop:-1":          "crop padding",
		"crop:x":           "crop padding",
		"crop:99999":       "crop padding",
		"flip:1":           "no parameter",
		"resized-crop:0":   "minimum area",
		"resized-crop:1.5": "minimum area",
		"resized-crop:NaN": "minimum area",
		"blur":             `unknown augmentation "blur"`,
		"flip,flip":        "twice",
		"crop,,flip":       "empty item",
	} {
		_, err := ParseAugment(spec, 1)
		if err == nil || !strings.Contains(err.Error(), msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want an error with %q", spec, err, msg)
		}
	}
	a, _ := ParseAugment("flip", 1)
	if err := a.CheckShape([]int{10}); err == nil {
		t.Error("augmenting feature vectors: no error")
	}
	if err := a.CheckShape([]int{4, 4, 3}); err != nil {
		t.Error(err)
	}
}

// ramp is an h x w x c image whose value at (y, x, k) is 100y + 10x + k.
func ramp(h, w, c int) []float32 {
	img := make([]float32, h*w*c)
	for y := range h {
		for x := range w {
			for k := range c {
				img[(y*w+x)*c+k] = float32(100*y + 10*x + k)
			}
		}
	}
	return img
}

func TestShiftImage(t *testing.T) {
	src := ramp(3, 4, 1)
	dst := make([]float32, len(src))
	// The window starts one row down and one column left: row y of dst is
	// row y+1 of src, column x is column x-1; outside src, zeros.
	shiftImage(src, dst, 3, 4, 1, 1, -1)
	want := []float32{
		0, 100, 110, 120,
		0, 200, 210, 220,
		0, 0, 0, 0,
	}
	if !slices.Equal(dst, want) {
		t.Errorf("shift (1,-1): got %v, want %v", dst, want)
	}
	shiftImage(src, dst, 3, 4, 1, -2, 2)
	want = []float32{
		0, 0, 0, 0,
		0, 0, 0, 0,
		20, 30, 0, 0,
	}
	if !slices.Equal(dst, want) {
		t.Errorf("shift (-2,2): got %v, want %v", dst, want)
	}
	shiftImage(src, dst, 3, 4, 1, 0, 0)
	if !slices.Equal(dst, src) {
		t.Errorf("shift (0,0): got %v", dst)
	}
	shiftImage(src, dst, 3, 4, 1, 0, 5) // entirely outside
	if !slices.Equal(dst, make([]float32, 12)) {
		t.Errorf("shift (0,5): got %v", dst)
	}
}

func TestFlipImage(t *testing.T) {
	img := ramp(2, 3, 2)
	flipImage(img, 2, 3, 2)
	want := []float32{
		20, 21, 10, 11, 0, 1,
		120, 121, 110, 111, 100, 101,
	}
	if !slices.Equal(img, want) {
		t.Errorf("got %v, want %v", img, want)
	}
}

func TestCropResize(t *testing.T) {
	src := ramp(4, 4, 1)
	dst := make([]float32, 16)
	// The top-left 2x2 window scaled by 2: half-pixel centres sample rows
	// and columns 0, 0.25, 0.75 and 1 (clamped at the window's edges).
	cropResize(src, 4, 4, 1, 0, 0, 2, 2, dst)
	at := []float32{0, 0.25, 0.75, 1}
	for y := range 4 {
		for x := range 4 {
			if want := 100*at[y] + 10*at[x]; dst[y*4+x] != want {
				t.Errorf("(%d,%d): got %v, want %v", y, x, dst[y*4+x], want)
			}
		}
	}
	// A window of the bottom-right corner stays within it.
	cropResize(src, 4, 4, 1, 2, 2, 2, 2, dst)
	if dst[0] != 220 || dst[15] != 330 {
		t.Errorf("bottom-right window: corners %v and %v, want 220 and 330", dst[0], dst[15])
	}
	cropResize(src, 4, 4, 1, 0, 0, 4, 4, dst)
	if !slices.Equal(dst, src) {
		t.Errorf("the whole image: got %v", dst)
	}
}

func TestResizedCropWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		top, left, ch, cw := resizedCropWindow(r, 32, 24, 0.5)
		if top < 0 || left < 0 || ch < 1 || cw < 1 || top+ch > 32 || left+cw > 24 {
			t.Fatalf("window (%d,%d) %dx%d outside 32x24", top, left, ch, cw)
		}
		if area := float64(ch*cw) / (32 * 24); area < 0.45 || area > 1 {
			t.Fatalf("window %dx%d holds %.2f of the area, want [0.5, 1] (with rounding)", ch, cw, area)
		}
	}
	// A 1x1 image fits only the whole image.
	if top, left, ch, cw := resizedCropWindow(r, 1, 1, 0.1); top != 0 || left != 0 || ch != 1 || cw != 1 {
		t.Errorf("1x1: window (%d,%d) %dx%d", top, left, ch, cw)
	}
}

func TestAugmentReproducible(t *testing.T) {
	a, err := ParseAugment("resized-crop:0.5,crop:2,flip", 42)
	if err != nil {
		t.Fatal(err)
	}
	const h, w, c = 8, 6, 3
	aug := func(a *Augment, epoch, index int) []float32 {
		img := ramp(h, w, c)
		var scratch []float32
		a.Apply(img, h, w, c, epoch, index, &scratch)
		return img
	}
	// The same (seed, epoch, index) gives the same image, whatever was
	// augmented before.
	first := aug(a, 3, 17)
	for i := range 20 {
		aug(a, i%4, i)
	}
	if !slices.Equal(aug(a, 3, 17), first) {
		t.Fatal("the same (seed, epoch, index) gave another image")
	}
	// Other epochs, indices and seeds draw otherwise (at least once in a
	// few tries: a draw may repeat by chance).
	differs := func(f func(k int) []float32) bool {
		for k := range 8 {
			if !slices.Equal(f(k), first) {
				return true
			}
		}
		return false
	}
	if !differs(func(k int) []float32 { return aug(a, 4+k, 17) }) {
		t.Error("other epochs give the same image")
	}
	if !differs(func(k int) []float32 { return aug(a, 3, 18+k) }) {
		t.Error("other indices give the same image")
	}
	if !differs(func(k int) []float32 { return aug(&Augment{Transforms: a.Transforms, Seed: uint64(43 + k)}, 3, 17) }) {
		t.Error("other seeds give the same image")
	}
	// Flip alone: both outcomes happen, and each is the image or its mirror.
	f, _ := ParseAugment("flip", 1)
	mirrored := ramp(h, w, c)
	flipImage(mirrored, h, w, c)
	seen := map[bool]bool{}
	for i := range 64 {
		img := aug(f, 0, i)
		switch {
		case slices.Equal(img, ramp(h, w, c)):
			seen[false] = true
		case slices.Equal(img, mirrored):
			seen[true] = true
		default:
			t.Fatalf("example %d: flip made neither the image nor its mirror", i)
		}
	}
	if !seen[false] || !seen[true] {
		t.Errorf("64 flips: outcomes %v, want both", seen)
	}
	// Crop alone: each result is the image shifted by at most the padding.
	cr, _ := ParseAugment("crop:2", 5)
	for i := range 32 {
		img := aug(cr, 1, i)
		found := false
		for dy := -2; dy <= 2 && !found; dy++ {
			for dx := -2; dx <= 2 && !found; dx++ {
				want := make([]float32, h*w*c)
				shiftImage(ramp(h, w, c), want, h, w, c, dy, dx)
				found = slices.Equal(img, want)
			}
		}
		if !found {
			t.Fatalf("example %d: crop:2 made an image that is no shift within 2 pixels", i)
		}
	}
}
