// Package safetensors reads and writes the safetensors file format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON naming every tensor's dtype, shape and
// byte range, then the raw little-endian tensor data.
//
// The reader treats a file as hostile: it bounds the header before
// allocating it, checks every offset against the file and against its
// tensor's shape and dtype, and rejects overlapping tensors and holes in the
// data. The writer is atomic: a file at the destination path is either the
// old one or the complete new one.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Data types, as spelled in safetensors headers.
const (
	dtBOOL  = "BOOL"
	dtU8    = "U8"
	dtI8    = "I8"
	dtF8E5  = "F8_E5M2"
	dtF8E4  = "F8_E4M3"
	dtI16   = "I16"
	dtU16   = "U16"
	dtF16   = "F16"
	dtBF16  = "BF16"
	dtI32   = "I32"
	dtU32   = "U32"
	dtF32   = "F32"
	dtF64   = "F64"
	dtI64   = "I64"
	dtU64   = "U64"
	metaKey = "__metadata__"
)

// dtypeSizes maps every supported dtype to its element size in bytes.
var dtypeSizes = map[string]int{
	dtBOOL: 1, dtU8: 1, dtI8: 1, dtF8E5: 1, dtF8E4: 1,
	dtI16: 2, dtU16: 2, dtF16: 2, dtBF16: 2,
	dtI32: 4, dtU32: 4, dtF32: 4,
	dtF64: 8, dtI64: 8, dtU64: 8,
}

// DTypeSize returns the size in bytes of one element of dtype, or 0 if the
// dtype is unknown.
func DTypeSize(dtype string) int { return dtypeSizes[dtype] }

// Tensor is one named array of a file: its element type, its shape
// (outermost first, row-major) and its raw little-endian bytes.
type Tensor struct {
	// DType is the element type: "F32", "I8", "U8", "I32", "I64", "F64",
	// or another safetensors dtype.
	DType string
	// Shape is the dimensions; an empty shape is a scalar.
	Shape []int
	// Data holds the elements, little-endian, len(Data) = product(Shape) *
	// DTypeSize(DType).
	Data []byte
}

// File is the content of a safetensors file.
type File struct {
	// Metadata is the free-form string map stored under "__metadata__".
	Metadata map[string]string
	// Tensors maps names to tensors.
	Tensors map[string]Tensor
}

// F32 returns a tensor holding a little-endian copy of data.
func F32(shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: dtF32, Shape: append([]int(nil), shape...), Data: b}
}

// F64 returns a tensor holding a little-endian copy of data.
func F64(shape []int, data []float64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{DType: dtF64, Shape: append([]int(nil), shape...), Data: b}
}

// I8 returns a tensor holding a copy of data.
func I8(shape []int, data []int8) Tensor {
	b := make([]byte, len(data))
	for i, v := range data {
		b[i] = byte(v)
	}
	return Tensor{DType: dtI8, Shape: append([]int(nil), shape...), Data: b}
}

// U8 returns a tensor holding a copy of data.
func U8(shape []int, data []uint8) Tensor {
	return Tensor{DType: dtU8, Shape: append([]int(nil), shape...), Data: append([]byte(nil), data...)}
}

// I32 returns a tensor holding a little-endian copy of data.
func I32(shape []int, data []int32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Tensor{DType: dtI32, Shape: append([]int(nil), shape...), Data: b}
}

// I64 returns a tensor holding a little-endian copy of data.
func I64(shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{DType: dtI64, Shape: append([]int(nil), shape...), Data: b}
}

// NumElements returns the product of the shape's dimensions (1 for a
// scalar), or an error if a dimension is negative or the product overflows.
func (t Tensor) NumElements() (int, error) { return numElements(t.Shape) }

// check verifies that t's dtype is known, its shape valid and its data
// length exactly product(shape) * dtype size.
func (t Tensor) check() error {
	size := dtypeSizes[t.DType]
	if size == 0 {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return err
	}
	if n > math.MaxInt/size || n*size != len(t.Data) {
		return fmt.Errorf("%d bytes of data do not match shape %s of %s (%s bytes)",
			len(t.Data), formatShape(t.Shape), t.DType, bytesFor(n, size))
	}
	return nil
}

// as checks t against the wanted dtype and returns its element count.
func (t Tensor) as(dtype string) (int, error) {
	if t.DType != dtype {
		return 0, fmt.Errorf("safetensors: tensor has dtype %s, want %s", t.DType, dtype)
	}
	if err := t.check(); err != nil {
		return 0, fmt.Errorf("safetensors: %v", err)
	}
	return len(t.Data) / dtypeSizes[dtype], nil
}

// AsF32 decodes an F32 tensor. It returns an error if the dtype is not F32
// or the data length does not match the shape.
func (t Tensor) AsF32() ([]float32, error) {
	n, err := t.as(dtF32)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// AsF64 decodes an F64 tensor, checking dtype and size.
func (t Tensor) AsF64() ([]float64, error) {
	n, err := t.as(dtF64)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// AsI8 decodes an I8 tensor, checking dtype and size.
func (t Tensor) AsI8() ([]int8, error) {
	n, err := t.as(dtI8)
	if err != nil {
		return nil, err
	}
	out := make([]int8, n)
	for i := range out {
		out[i] = int8(t.Data[i])
	}
	return out, nil
}

// AsU8 decodes a U8 tensor, checking dtype and size.
func (t Tensor) AsU8() ([]uint8, error) {
	if _, err := t.as(dtU8); err != nil {
		return nil, err
	}
	return append([]uint8(nil), t.Data...), nil
}

// AsI32 decodes an I32 tensor, checking dtype and size.
func (t Tensor) AsI32() ([]int32, error) {
	n, err := t.as(dtI32)
	if err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// AsI64 decodes an I64 tensor, checking dtype and size.
func (t Tensor) AsI64() ([]int64, error) {
	n, err := t.as(dtI64)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// numElements multiplies the dimensions, rejecting negative ones and
// overflow of int.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s has a negative dimension", formatShape(shape))
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %s has too many elements", formatShape(shape))
		}
		n *= d
	}
	return n, nil
}

// bytesFor formats n*size, or "too many" if it overflows.
func bytesFor(n, size int) string {
	if n > math.MaxInt/size {
		return "too many"
	}
	return fmt.Sprint(n * size)
}

// formatShape prints a shape like Python does: "(10, 10)", "(5,)", "()".
func formatShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
