// Package tensor holds goqat's dense tensors: float32 for training and float
// inference, int8 and int32 for the integer engine. Tensors are plain data
// (a shape and a flat row-major slice, NHWC for images); there is no autodiff
// here: layers in package nn compute their own gradients.
package tensor

import (
	"fmt"
	"strings"
)

// Shape is a tensor's dimensions, outermost first. Image tensors are NHWC.
type Shape []int

// Size is the number of elements, the product of the dimensions (1 for a
// scalar shape).
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Valid reports an error if a dimension is not positive.
func (s Shape) Valid() error {
	for _, d := range s {
		if d <= 0 {
			return fmt.Errorf("shape %v has a non-positive dimension", s)
		}
	}
	return nil
}

// String formats s like Keras does, e.g. "(28, 28, 1)".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Tensor is a dense float32 tensor: Data holds Shape.Size() values in
// row-major order.
type Tensor struct {
	Shape Shape
	Data  []float32
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	s := Shape(shape).Clone()
	return &Tensor{Shape: s, Data: make([]float32, s.Size())}
}

// FromSlice wraps data (not copied) as a tensor of the given shape. It
// returns an error if the sizes do not match.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	s := Shape(shape).Clone()
	if s.Size() != len(data) {
		return nil, fmt.Errorf("tensor: %d values do not fill shape %v", len(data), s)
	}
	return &Tensor{Shape: s, Data: data}, nil
}

// Size is the number of elements.
func (t *Tensor) Size() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: t.Shape.Clone(), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// View returns a tensor that shares t's data under another shape of the same
// size. It panics if the sizes differ (a programming error, not bad input).
func (t *Tensor) View(shape ...int) *Tensor {
	s := Shape(shape).Clone()
	if s.Size() != len(t.Data) {
		panic(fmt.Sprintf("tensor: view %v of a tensor of shape %v", s, t.Shape))
	}
	return &Tensor{Shape: s, Data: t.Data}
}

// Batch returns a view of samples [lo, hi) along the first dimension.
func (t *Tensor) Batch(lo, hi int) *Tensor {
	per := 1
	for _, d := range t.Shape[1:] {
		per *= d
	}
	s := t.Shape.Clone()
	s[0] = hi - lo
	return &Tensor{Shape: s, Data: t.Data[lo*per : hi*per]}
}

// Ensure makes *t a tensor of the given shape, reusing its storage when it is
// large enough, so that layers can keep buffers across steps without
// allocating. The contents are not cleared.
func Ensure(t **Tensor, shape ...int) *Tensor {
	n := Shape(shape).Size()
	if *t == nil || cap((*t).Data) < n {
		*t = &Tensor{Data: make([]float32, n)}
	}
	(*t).Data = (*t).Data[:n]
	(*t).Shape = append((*t).Shape[:0], shape...)
	return *t
}

// Int8 is a dense int8 tensor (quantized weights and activations).
type Int8 struct {
	Shape Shape
	Data  []int8
}

// NewInt8 returns a zeroed int8 tensor of the given shape.
func NewInt8(shape ...int) *Int8 {
	s := Shape(shape).Clone()
	return &Int8{Shape: s, Data: make([]int8, s.Size())}
}

// Int32 is a dense int32 tensor (quantized biases and accumulators).
type Int32 struct {
	Shape Shape
	Data  []int32
}

// NewInt32 returns a zeroed int32 tensor of the given shape.
func NewInt32(shape ...int) *Int32 {
	s := Shape(shape).Clone()
	return &Int32{Shape: s, Data: make([]int32, s.Size())}
}
