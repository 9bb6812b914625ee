package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// TransformKind names one augmentation of Augment.
type TransformKind string

// The augmentations (docs/DESIGN.md, Data loading).
const (
	// AugCrop pads the image with Param zeros on every side and cuts a
	// random window of the original size out of it (Param 0 means 4).
	AugCrop TransformKind = "crop"
	// AugFlip mirrors the image left to right with probability 1/2.
	AugFlip TransformKind = "flip"
	// AugResizedCrop cuts a random window of between Param (0 means 0.75)
	// and all of the image's area, of aspect ratio between 3/4 and 4/3,
	// and resizes it bilinearly back to the image's size.
	AugResizedCrop TransformKind = "resized-crop"
)

// Defaults of the augmentations' parameters.
const (
	defaultCropPad   = 4
	defaultMinArea   = 0.75
	maxCropPad       = 1 << 12
	resizedCropTries = 10
)

// Transform is one augmentation and its parameter (see TransformKind).
type Transform struct {
	Kind  TransformKind
	Param float64
}

// Augment is a list of random image augmentations applied in order to each
// training example. The random draws for an example depend only on (Seed,
// epoch, example index), never on which goroutine applies them or when, so
// a training run is reproducible whatever the number of loader workers.
type Augment struct {
	Transforms []Transform
	Seed       uint64
}

// ParseAugment reads a comma-separated list of augmentations, each a name
// with an optional ":" parameter: "crop[:PAD]" (random crop after zero
// padding, PAD pixels, default 4), "flip" (horizontal, p=1/2),
// "resized-crop[:MINAREA]" (random window of at least MINAREA of the area,
// default 0.75, resized back). "" and "none" mean no augmentation (nil).
func ParseAugment(spec string, seed uint64) (*Augment, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return nil, nil
	}
	a := &Augment{Seed: seed}
	seen := map[TransformKind]bool{}
	for _, item := range strings.Split(spec, ",") {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(item), ":")
		t := Transform{Kind: TransformKind(name)}
		switch t.Kind {
		case AugCrop:
			t.Param = defaultCropPad
			if hasArg {
				n, err := strconv.Atoi(arg)
				if err != nil || n < 1 || n > maxCropPad {
					return nil, fmt.Errorf("augment %q: crop padding %q: want a whole number of pixels in [1, %d]", spec, arg, maxCropPad)
				}
				t.Param = float64(n)
			}
		case AugFlip:
			if hasArg {
				return nil, fmt.Errorf("augment %q: flip takes no parameter", spec)
			}
		case AugResizedCrop:
			t.Param = defaultMinArea
			if hasArg {
				v, err := strconv.ParseFloat(arg, 64)
				if err != nil || !(v > 0 && v <= 1) {
					return nil, fmt.Errorf("augment %q: resized-crop minimum area %q: want a fraction in (0, 1]", spec, arg)
				}
				t.Param = v
			}
		case "":
			return nil, fmt.Errorf("augment %q: empty item", spec)
		default:
			return nil, fmt.Errorf("augment %q: unknown augmentation %q: want crop[:PAD], flip or resized-crop[:MINAREA]", spec, name)
		}
		if seen[t.Kind] {
			return nil, fmt.Errorf("augment %q: %s given twice", spec, t.Kind)
		}
		seen[t.Kind] = true
		a.Transforms = append(a.Transforms, t)
	}
	return a, nil
}

// String is the spec ParseAugment reads back.
func (a *Augment) String() string {
	if a == nil || len(a.Transforms) == 0 {
		return "none"
	}
	parts := make([]string, len(a.Transforms))
	for i, t := range a.Transforms {
		switch t.Kind {
		case AugFlip:
			parts[i] = string(t.Kind)
		default:
			parts[i] = string(t.Kind) + ":" + strconv.FormatFloat(t.Param, 'g', -1, 64)
		}
	}
	return strings.Join(parts, ",")
}

// CheckShape reports an error unless the examples, of the given shape, are
// images (H,W,C) the augmentations apply to.
func (a *Augment) CheckShape(shape []int) error {
	if a == nil || len(a.Transforms) == 0 {
		return nil
	}
	if len(shape) != 3 {
		return fmt.Errorf("augment %s: applies to images (H,W,C), not to examples of shape %v", a, shape)
	}
	return nil
}

// streamAugment is the stream tag of the augmentations' random source.
const streamAugment = 0x4155_4755 // "AUGU"

// exampleRand returns the random source of example index in epoch.
func (a *Augment) exampleRand(epoch, index int) *rand.Rand {
	return rand.New(rand.NewPCG(a.Seed, mixSeed(streamAugment, uint64(epoch)<<32^uint64(index))))
}

// mixSeed derives a PCG seed from a stream tag and an index (SplitMix64's
// finaliser), so that nearby indices give unrelated sequences.
func mixSeed(stream, i uint64) uint64 {
	z := stream<<32 ^ i
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Apply augments the image img (h,w,c) of example index in epoch in place;
// scratch (h*w*c values, grown if shorter) holds the intermediate image.
func (a *Augment) Apply(img []float32, h, w, c, epoch, index int, scratch *[]float32) {
	if a == nil || len(a.Transforms) == 0 {
		return
	}
	n := h * w * c
	if cap(*scratch) < n {
		*scratch = make([]float32, n)
	}
	tmp := (*scratch)[:n]
	r := a.exampleRand(epoch, index)
	for _, t := range a.Transforms {
		switch t.Kind {
		case AugCrop:
			p := int(t.Param)
			dy, dx := r.IntN(2*p+1)-p, r.IntN(2*p+1)-p
			copy(tmp, img[:n])
			shiftImage(tmp, img, h, w, c, dy, dx)
		case AugFlip:
			if r.IntN(2) == 1 {
				flipImage(img, h, w, c)
			}
		case AugResizedCrop:
			top, left, ch, cw := resizedCropWindow(r, h, w, t.Param)
			copy(tmp, img[:n])
			cropResize(tmp, h, w, c, top, left, ch, cw, img)
		}
	}
}

// shiftImage writes into dst (h,w,c) the window of src (h,w,c) whose top
// left corner is (dy, dx) relative to src's, zero outside src: the random
// crop of an image padded with zeros, offset (dy, dx) from the centre.
func shiftImage(src, dst []float32, h, w, c, dy, dx int) {
	for y := range h {
		row := dst[y*w*c : (y+1)*w*c]
		sy := y + dy
		if sy < 0 || sy >= h {
			clear(row)
			continue
		}
		x0, x1 := max(0, -dx), min(w, w-dx) // dst columns with a source
		if x1 <= x0 {
			clear(row)
			continue
		}
		clear(row[:x0*c])
		copy(row[x0*c:x1*c], src[(sy*w+x0+dx)*c:(sy*w+x1+dx)*c])
		clear(row[x1*c:])
	}
}

// flipImage mirrors img (h,w,c) left to right in place.
func flipImage(img []float32, h, w, c int) {
	for y := range h {
		row := img[y*w*c : (y+1)*w*c]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			for k := range c {
				row[i*c+k], row[j*c+k] = row[j*c+k], row[i*c+k]
			}
		}
	}
}

// resizedCropWindow draws the window (top, left, height, width) of a random
// resized crop of an h x w image: area a fraction in [minArea, 1] of the
// image's, aspect ratio log-uniform in [3/4, 4/3]; after resizedCropTries
// draws that do not fit, the whole image.
func resizedCropWindow(r *rand.Rand, h, w int, minArea float64) (top, left, ch, cw int) {
	area := float64(h * w)
	lo, hi := math.Log(3.0/4), math.Log(4.0/3)
	for range resizedCropTries {
		target := area * (minArea + (1-minArea)*r.Float64())
		ratio := math.Exp(lo + (hi-lo)*r.Float64()) // width / height
		cw = int(math.Round(math.Sqrt(target * ratio)))
		ch = int(math.Round(math.Sqrt(target / ratio)))
		if cw >= 1 && ch >= 1 && cw <= w && ch <= h {
			return r.IntN(h - ch + 1), r.IntN(w - cw + 1), ch, cw
		}
	}
	return 0, 0, h, w
}

// cropResize resizes the window (top, left, ch x cw) of src (h,w,c)
// bilinearly to dst (h,w,c).
func cropResize(src []float32, h, w, c, top, left, ch, cw int, dst []float32) {
	if ch == h && cw == w {
		copy(dst[:h*w*c], src)
		return
	}
	sy, sx := float64(ch)/float64(h), float64(cw)/float64(w)
	for y := range h {
		fy := clampF(float64(top)+(float64(y)+0.5)*sy-0.5, float64(top), float64(top+ch-1))
		iy := int(fy)
		iy1 := min(iy+1, top+ch-1)
		ty := float32(fy - float64(iy))
		for x := range w {
			fx := clampF(float64(left)+(float64(x)+0.5)*sx-0.5, float64(left), float64(left+cw-1))
			ix := int(fx)
			ix1 := min(ix+1, left+cw-1)
			tx := float32(fx - float64(ix))
			p00, p01 := src[(iy*w+ix)*c:], src[(iy*w+ix1)*c:]
			p10, p11 := src[(iy1*w+ix)*c:], src[(iy1*w+ix1)*c:]
			o := dst[(y*w+x)*c:]
			for k := range c {
				a := p00[k] + (p01[k]-p00[k])*tx
				b := p10[k] + (p11[k]-p10[k])*tx
				o[k] = a + (b-a)*ty
			}
		}
	}
}
