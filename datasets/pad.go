package datasets

import (
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// PadTo returns d with every image zero-padded to h x w, centred: an image
// (H,W,C) gets (h-H)/2 rows above and (w-W)/2 columns to the left, the rest
// below and to the right. It is how 28x28 MNIST-style sets feed networks
// made for 32x32 inputs (ResNet-20, the CIFAR networks). Images that already
// are h x w are returned as they are (d itself); h or w smaller than the
// images is an error: shrinking needs cropping or resizing.
//
//	d.X (N,H,W,C) -> (N,h,w,C)
func PadTo(d *Dataset, h, w int) (*Dataset, error) {
	if len(d.X.Shape) != 4 {
		return nil, fmt.Errorf("datasets: %s: images have shape %v, want (N,H,W,C)", d.Name, d.X.Shape)
	}
	n, ih, iw, c := d.X.Shape[0], d.X.Shape[1], d.X.Shape[2], d.X.Shape[3]
	if h < ih || w < iw {
		return nil, fmt.Errorf("datasets: %s: cannot pad %dx%d images to %dx%d (smaller)", d.Name, ih, iw, h, w)
	}
	if h == ih && w == iw {
		return d, nil
	}
	const maxValues = 1 << 34 // 64 GiB of float32: refuse before allocating
	if h > maxValues/w || int64(n)*int64(h*w) > maxValues/int64(c) {
		return nil, fmt.Errorf("datasets: %s: %d images of %dx%dx%d are too many values", d.Name, n, h, w, c)
	}
	top, left := (h-ih)/2, (w-iw)/2
	src := d.X.Data
	dst := make([]float32, n*h*w*c)
	inImg, outImg, inRow := ih*iw*c, h*w*c, iw*c
	kernels.ParallelFor(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s, o := src[i*inImg:(i+1)*inImg], dst[i*outImg:(i+1)*outImg]
			for y := range ih {
				copy(o[((top+y)*w+left)*c:], s[y*inRow:(y+1)*inRow])
			}
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
