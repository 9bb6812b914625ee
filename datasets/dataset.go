package datasets

import (
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Dataset is a labelled classification set held in memory: images or
// feature vectors. It is also a Source.
type Dataset struct {
	// Name says which set and split it is, e.g. "mnist-train".
	Name string
	// X holds the images, (N,H,W,C) float32 in [0,1] (pixel/255), e.g.
	// (N,28,28,1) for MNIST and Fashion-MNIST; or, for a table, the feature
	// vectors (N,F) as they are.
	X *tensor.Tensor
	// Y holds the labels, (N) float32 class indices in [0, Classes).
	Y *tensor.Tensor
	// Classes is the number of classes.
	Classes int
	// ClassNames names the classes, index i for label i.
	ClassNames []string
}

// Len is the number of samples.
func (d *Dataset) Len() int { return d.Y.Shape[0] }

// Subset returns samples [lo, hi) as a Dataset whose X and Y are views of
// d's (no copy). It panics if the range is not within [0, Len()] (a
// programming error).
func (d *Dataset) Subset(lo, hi int) *Dataset {
	if lo < 0 || hi < lo || hi > d.Len() {
		panic(fmt.Sprintf("datasets: subset [%d, %d) of a %d-sample dataset", lo, hi, d.Len()))
	}
	return &Dataset{
		Name:       d.Name,
		X:          d.X.Batch(lo, hi),
		Y:          d.Y.Batch(lo, hi),
		Classes:    d.Classes,
		ClassNames: d.ClassNames,
	}
}

// Take returns the first n samples as views (all of them if n >= Len()),
// e.g. for a quick run. It panics if n is negative.
func (d *Dataset) Take(n int) *Dataset {
	return d.Subset(0, min(n, d.Len()))
}

// Clone returns a deep copy that shares no memory with d, for callers that
// need to modify the images or labels of a cached set such as MNIST().
func (d *Dataset) Clone() *Dataset {
	return &Dataset{
		Name:       d.Name,
		X:          d.X.Clone(),
		Y:          d.Y.Clone(),
		Classes:    d.Classes,
		ClassNames: append([]string(nil), d.ClassNames...),
	}
}

// FromIDX builds a Dataset from decoded IDX images (N,H,W) or (N,H,W,C) and
// labels (N), scaling pixels to [0,1]. The classes are named by classNames; a label
// outside [0, len(classNames)) is an error, as are mismatched counts.
func FromIDX(name string, images, labels *IDX, classNames []string) (*Dataset, error) {
	if images == nil || labels == nil {
		return nil, fmt.Errorf("datasets: %s: nil images or labels", name)
	}
	if len(images.Dims) != 3 && len(images.Dims) != 4 {
		return nil, fmt.Errorf("datasets: images have %d dimensions %v, want 3 (N, rows, cols) or 4 (N, rows, cols, channels)", len(images.Dims), images.Dims)
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("datasets: labels have %d dimensions %v, want 1 (N)", len(labels.Dims), labels.Dims)
	}
	n, h, w, c := images.Dims[0], images.Dims[1], images.Dims[2], 1
	if len(images.Dims) == 4 {
		c = images.Dims[3]
	}
	if n < 0 || h < 0 || w < 0 || c < 0 {
		return nil, fmt.Errorf("datasets: negative image dimensions %v", images.Dims)
	}
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("datasets: %d images but %d labels", n, labels.Dims[0])
	}
	if len(images.Data) != n*h*w*c || len(labels.Data) != n {
		return nil, fmt.Errorf("datasets: IDX data sizes %d and %d do not match dimensions %v and %v",
			len(images.Data), len(labels.Data), images.Dims, labels.Dims)
	}
	if len(classNames) == 0 {
		return nil, fmt.Errorf("datasets: no class names")
	}
	y := make([]float32, n)
	for i, l := range labels.Data {
		if int(l) >= len(classNames) {
			return nil, fmt.Errorf("datasets: label %d of sample %d is out of range: %d classes", l, i, len(classNames))
		}
		y[i] = float32(l)
	}
	x := make([]float32, len(images.Data))
	pixelsToFloat(x, images.Data)
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: tensor.Shape{n, h, w, c}, Data: x},
		Y:          &tensor.Tensor{Shape: tensor.Shape{n}, Data: y},
		Classes:    len(classNames),
		ClassNames: append([]string(nil), classNames...),
	}, nil
}

// pixelScale maps a byte to its value in [0,1], exactly float32(b)/255.
var pixelScale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// pixelsToFloat sets dst[i] = src[i]/255 (len(dst) == len(src)), split
// across the thread count's goroutines (threads.N()): the first touch of a fresh 190 MB
// buffer costs page faults that are worth sharing.
func pixelsToFloat(dst []float32, src []byte) {
	dst = dst[:len(src)]
	kernels.ParallelFor(len(src), 1<<16, func(lo, hi int) {
		d := dst[lo:hi]
		for i, b := range src[lo:hi] {
			d[i] = pixelScale[b]
		}
	})
}
