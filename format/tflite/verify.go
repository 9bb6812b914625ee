package tflite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"
)

// The verifier: every table, vector and string is checked against the
// buffer before it is read, and the total read is charged to a budget
// proportional to the file's size, so that tables sharing (overlapping)
// data cannot make the walk or the allocations grow beyond it. Offsets
// to tables, vectors and strings are unsigned and point forward, so no
// chain of them can cycle; a vtable may sit anywhere and is bounded too.

// errBudget is returned when a file makes the reader do more work than
// its size allows.
var errBudget = errors.New("the file's tables share data beyond its size (overlapping tables)")

// fbuf is a verified view of a flatbuffer.
type fbuf struct {
	b      []byte
	budget int64 // elements and bytes left to read or allocate
}

// newFbuf returns a view of b with a budget of a few times its size.
func newFbuf(b []byte) *fbuf {
	return &fbuf{b: b, budget: 4*int64(len(b)) + 1<<16}
}

// charge takes n units from the budget.
func (f *fbuf) charge(n int64) error {
	if n < 0 || n > f.budget {
		f.budget = 0
		return errBudget
	}
	f.budget -= n
	return nil
}

// u32 reads a little-endian uint32 at p, which the caller has bounded.
func (f *fbuf) u32(p uint64) uint32 { return binary.LittleEndian.Uint32(f.b[p:]) }

// fits reports whether n bytes at p lie in the buffer.
func (f *fbuf) fits(p, n uint64) bool { return p <= uint64(len(f.b)) && n <= uint64(len(f.b))-p }

// ftable is a verified table.
type ftable struct {
	f     *fbuf
	t     flatbuffers.Table
	vt    uint64 // the vtable's position
	vtLen uint64 // its length in bytes
	size  uint64 // the table's inline size
	what  string // for errors
}

// table verifies the table at p.
func (f *fbuf) table(p uint64, what string) (*ftable, error) {
	if !f.fits(p, 4) {
		return nil, fmt.Errorf("%s: table offset %d past the end of the file (%d bytes)", what, p, len(f.b))
	}
	if err := f.charge(8); err != nil {
		return nil, err
	}
	vt := int64(p) - int64(int32(f.u32(p)))
	if vt < 0 || !f.fits(uint64(vt), 4) {
		return nil, fmt.Errorf("%s: vtable offset %d outside the file", what, vt)
	}
	vtLen := uint64(binary.LittleEndian.Uint16(f.b[vt:]))
	size := uint64(binary.LittleEndian.Uint16(f.b[vt+2:]))
	if vtLen < 4 || vtLen%2 != 0 || !f.fits(uint64(vt), vtLen) {
		return nil, fmt.Errorf("%s: bad vtable length %d", what, vtLen)
	}
	if size < 4 || !f.fits(p, size) {
		return nil, fmt.Errorf("%s: table of %d bytes past the end of the file", what, size)
	}
	return &ftable{f: f, t: flatbuffers.Table{Bytes: f.b, Pos: flatbuffers.UOffsetT(p)}, vt: uint64(vt), vtLen: vtLen, size: size, what: what}, nil
}

// field returns the offset of field id inside the table (0: absent),
// checking that n bytes of it lie inside the table.
func (t *ftable) field(id int, n uint64) (uint64, error) {
	s := uint64(slot(id))
	if s+2 > t.vtLen {
		return 0, nil
	}
	off := uint64(binary.LittleEndian.Uint16(t.f.b[t.vt+s:]))
	if off == 0 {
		return 0, nil
	}
	if off < 4 || off+n > t.size {
		return 0, fmt.Errorf("%s: field %d at %d outside its table of %d bytes", t.what, id, off, t.size)
	}
	return off, nil
}

// scalar reads a field of n bytes (1, 4 or 8) as an int64, or d.
func (t *ftable) scalar(id int, n uint64, d int64) (int64, error) {
	off, err := t.field(id, n)
	if err != nil || off == 0 {
		return d, err
	}
	p := flatbuffers.UOffsetT(uint64(t.t.Pos) + off)
	switch n {
	case 1:
		return int64(t.t.GetInt8(p)), nil
	case 4:
		return int64(t.t.GetInt32(p)), nil
	}
	return t.t.GetInt64(p), nil
}

// u8 reads a byte field (enum, bool).
func (t *ftable) u8(id int, d uint8) (uint8, error) {
	v, err := t.scalar(id, 1, int64(int8(d)))
	return uint8(v), err
}

// i32 reads an int32 field.
func (t *ftable) i32(id int, d int32) (int32, error) {
	v, err := t.scalar(id, 4, int64(d))
	return int32(v), err
}

// u32f reads a uint32 field.
func (t *ftable) u32f(id int, d uint32) (uint32, error) {
	v, err := t.scalar(id, 4, int64(int32(d)))
	return uint32(v), err
}

// f32 reads a float32 field.
func (t *ftable) f32(id int, d float32) (float32, error) {
	off, err := t.field(id, 4)
	if err != nil || off == 0 {
		return d, err
	}
	return t.t.GetFloat32(flatbuffers.UOffsetT(uint64(t.t.Pos) + off)), nil
}

// target follows the offset field id to the position it points at, or 0
// when the field is absent.
func (t *ftable) target(id int) (uint64, error) {
	off, err := t.field(id, 4)
	if err != nil || off == 0 {
		return 0, err
	}
	p := uint64(t.t.Pos) + off
	rel := uint64(t.f.u32(p))
	if rel == 0 {
		return 0, fmt.Errorf("%s: field %d points at itself", t.what, id)
	}
	q := p + rel
	if !t.f.fits(q, 4) {
		return 0, fmt.Errorf("%s: field %d points past the end of the file", t.what, id)
	}
	return q, nil
}

// sub returns the table field id points at, or nil.
func (t *ftable) sub(id int, what string) (*ftable, error) {
	q, err := t.target(id)
	if err != nil || q == 0 {
		return nil, err
	}
	return t.f.table(q, what)
}

// vector returns the position of the first element and the length of the
// vector field id of elements of elem bytes (0, 0 when absent), charging
// its length to the budget.
func (t *ftable) vector(id int, elem uint64) (uint64, int, error) {
	q, err := t.target(id)
	if err != nil || q == 0 {
		return 0, 0, err
	}
	n := uint64(t.f.u32(q))
	if n > uint64(len(t.f.b)) || !t.f.fits(q+4, n*elem) {
		return 0, 0, fmt.Errorf("%s: vector field %d of %d elements past the end of the file", t.what, id, n)
	}
	if err := t.f.charge(int64(n) + 1); err != nil {
		return 0, 0, err
	}
	return q + 4, int(n), nil
}

// maxVector bounds the vectors of indices and shapes read into memory.
const maxVector = 1 << 20

// int32s reads an int32 vector field.
func (t *ftable) int32s(id int) ([]int32, error) {
	p, n, err := t.vector(id, 4)
	if err != nil || n == 0 {
		return nil, err
	}
	if n > maxVector {
		return nil, fmt.Errorf("%s: vector of %d elements", t.what, n)
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(t.f.u32(p + 4*uint64(i)))
	}
	return v, nil
}

// float32s reads a float32 vector field.
func (t *ftable) float32s(id int) ([]float32, error) {
	v, err := t.int32s(id)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = math.Float32frombits(uint32(x))
	}
	return out, err
}

// int64s reads an int64 vector field.
func (t *ftable) int64s(id int) ([]int64, error) {
	p, n, err := t.vector(id, 8)
	if err != nil || n == 0 {
		return nil, err
	}
	if n > maxVector {
		return nil, fmt.Errorf("%s: vector of %d elements", t.what, n)
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.f.b[p+8*uint64(i):]))
	}
	return v, nil
}

// bytes returns a byte vector field (a view into the file).
func (t *ftable) bytes(id int) ([]byte, error) {
	p, n, err := t.vector(id, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	return t.f.b[p : p+uint64(n)], nil
}

// maxName bounds the names kept.
const maxName = 256

// str reads a string field, cut to maxName bytes.
func (t *ftable) str(id int) (string, error) {
	b, err := t.bytes(id)
	if len(b) > maxName {
		b = b[:maxName]
	}
	return string(b), err
}

// tableVec is a vector of tables, verified one at a time when read.
type tableVec struct {
	f    *fbuf
	p    uint64 // first element
	n    int
	what string
}

// tables returns the vector-of-tables field id.
func (t *ftable) tables(id int, what string) (tableVec, error) {
	p, n, err := t.vector(id, 4)
	if err != nil {
		return tableVec{}, err
	}
	if n > maxVector {
		return tableVec{}, fmt.Errorf("%s: %d tables", what, n)
	}
	return tableVec{f: t.f, p: p, n: n, what: what}, nil
}

// at verifies and returns table i of the vector.
func (v tableVec) at(i int) (*ftable, error) {
	e := v.p + 4*uint64(i)
	tb, err := v.f.table(e+uint64(v.f.u32(e)), v.what)
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", v.what, i, err)
	}
	return tb, nil
}

// root returns the root table of a .tflite buffer after checking its
// identifier.
func (f *fbuf) root() (*ftable, error) {
	if len(f.b) < 8 {
		return nil, fmt.Errorf("%d bytes: too short for a TFLite flatbuffer", len(f.b))
	}
	if string(f.b[4:8]) != fileIdentifier {
		return nil, fmt.Errorf("file identifier %q, want %q (not a TFLite model)", f.b[4:8], fileIdentifier)
	}
	return f.table(uint64(f.u32(0)), "model")
}
