package datasets

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Fit says how an image is brought to a target size whose aspect ratio
// differs from its own.
type Fit string

// The fits. All resample bilinearly (half-pixel centres, no antialiasing,
// as Keras's and torchvision's default resizing).
const (
	// FitCrop scales the image so that it covers the target and cuts the
	// centre out: nothing is distorted, the borders of the long side go.
	FitCrop Fit = "crop"
	// FitPad scales the image so that it fits inside the target and pads
	// the rest with zeros, centred (letterboxing). For in-memory arrays
	// (Resize) it pads without scaling, as PadTo.
	FitPad Fit = "pad"
	// FitStretch scales height and width independently to the target.
	FitStretch Fit = "stretch"
)

// ParseFit reads "crop", "pad" or "stretch".
func ParseFit(s string) (Fit, error) {
	switch f := Fit(s); f {
	case FitCrop, FitPad, FitStretch:
		return f, nil
	}
	return "", fmt.Errorf("fit %q: want crop, pad or stretch", s)
}

// resizeImage resamples the image src (sh,sw,c) into dst (h,w,c) as fit
// says. dst is overwritten entirely.
func resizeImage(src []float32, sh, sw, c int, dst []float32, h, w int, fit Fit) {
	// The source window (y0, x0, wh x ww, in source pixels) maps onto the
	// destination rectangle (top, left, rh x rw); outside it dst is zero.
	y0, x0, wh, ww := 0.0, 0.0, float64(sh), float64(sw)
	top, left, rh, rw := 0, 0, h, w
	switch fit {
	case FitCrop:
		s := max(float64(h)/float64(sh), float64(w)/float64(sw))
		wh, ww = float64(h)/s, float64(w)/s
		y0, x0 = (float64(sh)-wh)/2, (float64(sw)-ww)/2
	case FitPad:
		s := min(float64(h)/float64(sh), float64(w)/float64(sw))
		rh = min(h, max(1, int(math.Round(float64(sh)*s))))
		rw = min(w, max(1, int(math.Round(float64(sw)*s))))
		top, left = (h-rh)/2, (w-rw)/2
		clear(dst[:h*w*c])
	}
	sy, sx := wh/float64(rh), ww/float64(rw)
	for y := range rh {
		fy := clampF(y0+(float64(y)+0.5)*sy-0.5, 0, float64(sh-1))
		iy := int(fy)
		iy1 := min(iy+1, sh-1)
		dy := float32(fy - float64(iy))
		for x := range rw {
			fx := clampF(x0+(float64(x)+0.5)*sx-0.5, 0, float64(sw-1))
			ix := int(fx)
			ix1 := min(ix+1, sw-1)
			dx := float32(fx - float64(ix))
			p00, p01 := src[(iy*sw+ix)*c:], src[(iy*sw+ix1)*c:]
			p10, p11 := src[(iy1*sw+ix)*c:], src[(iy1*sw+ix1)*c:]
			o := dst[((top+y)*w+left+x)*c:]
			for k := range c {
				a := p00[k] + (p01[k]-p00[k])*dx
				b := p10[k] + (p11[k]-p10[k])*dx
				o[k] = a + (b-a)*dy
			}
		}
	}
}

// clampF limits v to [lo, hi].
func clampF(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

// Resize returns d with every image brought to h x w: FitPad zero-pads
// without scaling (PadTo: an image larger than h x w is an error), FitCrop
// and FitStretch resample bilinearly. Images already h x w are returned as
// they are (d itself).
//
//	d.X (N,H,W,C) -> (N,h,w,C)
func Resize(d *Dataset, h, w int, fit Fit) (*Dataset, error) {
	if fit == FitPad {
		return PadTo(d, h, w)
	}
	if len(d.X.Shape) != 4 {
		return nil, fmt.Errorf("datasets: %s: examples have shape %v, not images (N,H,W,C): they cannot be resized", d.Name, d.X.Shape)
	}
	n, ih, iw, c := d.X.Shape[0], d.X.Shape[1], d.X.Shape[2], d.X.Shape[3]
	if h == ih && w == iw {
		return d, nil
	}
	if h < 1 || w < 1 || h > MaxValues/w || n > MaxValues/(h*w*c) {
		return nil, fmt.Errorf("datasets: %s: %d images of %dx%dx%d are too many values", d.Name, n, h, w, c)
	}
	src, dst := d.X.Data, make([]float32, n*h*w*c)
	inImg, outImg := ih*iw*c, h*w*c
	kernels.ParallelFor(n, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			resizeImage(src[i*inImg:(i+1)*inImg], ih, iw, c, dst[i*outImg:(i+1)*outImg], h, w, fit)
		}
	})
	return &Dataset{
		Name:       d.Name,
		X:          &tensor.Tensor{Shape: tensor.Shape{n, h, w, c}, Data: dst},
		Y:          d.Y,
		Classes:    d.Classes,
		ClassNames: d.ClassNames,
	}, nil
}
