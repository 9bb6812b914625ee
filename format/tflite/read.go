package tflite

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// MaxFileSize bounds the .tflite files ReadFile accepts (the flatbuffer
// format itself addresses at most 2 GiB).
const MaxFileSize = 1 << 31

// IsTFLite reports whether b starts like a .tflite flatbuffer: a root
// offset and the identifier "TFL3" at bytes 4..8.
func IsTFLite(b []byte) bool { return len(b) >= 8 && string(b[4:8]) == fileIdentifier }

// IsFile reports whether the file at path starts like a .tflite model
// (false for anything but a regular file, which is not opened).
func IsFile(path string) (bool, error) {
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var hdr [8]byte
	n, err := io.ReadFull(f, hdr[:])
	if err != nil && n < 8 {
		return false, nil
	}
	return IsTFLite(hdr[:]), nil
}

// ReadFile reads and verifies a .tflite model (Read) from path, a regular
// file of at most MaxFileSize bytes.
func ReadFile(path string) (*lite.Model, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	m, err := Read(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read verifies a .tflite flatbuffer and converts its int8 (or float-edged
// int8) subgraph to an integer model, validated by lite (CheckBounds).
// Errors are one line naming the table, tensor or operator. The model
// runs in goqat's rounding, on the fast kernels, within one step of
// TFLite's codes op by op; set its Rounding to lite.RoundingTFLite for
// TFLite's runtime's codes exactly, on pure-Go kernels 15 to 80 times
// slower (docs/tflite.md, Rounding modes).
func Read(b []byte) (m *lite.Model, err error) {
	f := newFbuf(b)
	r := &reader{f: f}
	if err := r.read(); err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	if r.m.Validate() == nil {
		// Back to goqat's own ops where export wrote several
		// operators for one (read_fold.go), and a PAD before a
		// convolution into the convolution's padding: the same codes.
		fold(r.m)
		dropUnused(r.m)
		if r.m.Validate() == nil {
			r.m.FoldPads()
		}
	}
	if err := r.m.CheckBounds(); err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	return r.m, nil
}

// fileTensorIn is a tensor as read: its shape (batch included), type,
// constant data (nil: an activation) and quantization.
type fileTensorIn struct {
	name   string
	shape  []int32
	typ    uint8
	data   []byte
	scales []float32
	zps    []int64
	qdim   int32
}

// opcode is an operator_codes entry.
type opcode struct {
	code, version int32
}

// reader holds the state of one Read.
type reader struct {
	f       *fbuf
	codes   []opcode
	buffers [][]byte
	tensors []fileTensorIn
	m       *lite.Model
	lmap    map[int32]int // file tensor -> lite tensor
	indices map[int32]int // a CAST's int32 output -> its float32 lite tensor
}

// read verifies the model table and converts its subgraph.
func (r *reader) read() error {
	root, err := r.f.root()
	if err != nil {
		return err
	}
	v, err := root.u32f(modelVersion, 0)
	if err != nil {
		return err
	}
	if v != schemaVersion {
		return fmt.Errorf("schema version %d, want %d", v, schemaVersion)
	}
	if err := r.readCodes(root); err != nil {
		return err
	}
	if err := r.readBuffers(root); err != nil {
		return err
	}
	sgs, err := root.tables(modelSubgraphs, "subgraph")
	if err != nil {
		return err
	}
	if sgs.n != 1 {
		return fmt.Errorf("%d subgraphs, goqat reads models of one", sgs.n)
	}
	sg, err := sgs.at(0)
	if err != nil {
		return err
	}
	if err := r.readSubgraph(sg); err != nil {
		return err
	}
	// The model's name: goqat writes "goqat NAME" as the description.
	if desc, err := root.str(modelDescription); err == nil && strings.HasPrefix(desc, "goqat ") {
		r.m.Name = strings.TrimPrefix(desc, "goqat ")
	}
	return nil
}

// readCodes reads operator_codes.
func (r *reader) readCodes(root *ftable) error {
	ts, err := root.tables(modelOperatorCodes, "operator code")
	if err != nil {
		return err
	}
	for i := range ts.n {
		t, err := ts.at(i)
		if err != nil {
			return err
		}
		dep, err := t.u8(opcodeDeprecatedBuiltin, 0)
		if err != nil {
			return err
		}
		code, err := t.i32(opcodeBuiltin, 0)
		if err != nil {
			return err
		}
		ver, err := t.i32(opcodeVersion, 1)
		if err != nil {
			return err
		}
		custom, err := t.str(opcodeCustomCode)
		if err != nil {
			return err
		}
		// The builtin code is the larger of the two fields (files of
		// schema 3 older than builtin_code have only the deprecated one).
		code = max(code, int32(int8(dep)))
		if custom != "" {
			return fmt.Errorf("operator code %d: custom operator %q is not supported", i, custom)
		}
		r.codes = append(r.codes, opcode{code: code, version: ver})
	}
	return nil
}

// readBuffers reads the buffers (views into the file).
func (r *reader) readBuffers(root *ftable) error {
	ts, err := root.tables(modelBuffers, "buffer")
	if err != nil {
		return err
	}
	for i := range ts.n {
		t, err := ts.at(i)
		if err != nil {
			return err
		}
		if off, err := t.scalar(bufferOffset, 8, 0); err != nil || off != 0 {
			if err != nil {
				return err
			}
			return fmt.Errorf("buffer %d: data outside the flatbuffer (offset %d) is not supported", i, off)
		}
		d, err := t.bytes(bufferData)
		if err != nil {
			return err
		}
		r.buffers = append(r.buffers, d)
	}
	return nil
}

// readSubgraph reads the tensors and converts the operators.
func (r *reader) readSubgraph(sg *ftable) error {
	ts, err := sg.tables(subgraphTensors, "tensor")
	if err != nil {
		return err
	}
	for i := range ts.n {
		t, err := ts.at(i)
		if err != nil {
			return err
		}
		ft, err := r.readTensor(t)
		if err != nil {
			return fmt.Errorf("tensor %d: %w", i, err)
		}
		r.tensors = append(r.tensors, ft)
	}
	name, err := sg.str(subgraphName)
	if err != nil {
		return err
	}
	if name == "" {
		name = "tflite"
	}
	r.m = &lite.Model{Name: name}
	r.lmap = map[int32]int{}
	ins, err := sg.int32s(subgraphInputs)
	if err != nil {
		return err
	}
	outs, err := sg.int32s(subgraphOutputs)
	if err != nil {
		return err
	}
	for _, i := range ins {
		k, err := r.activation(i)
		if err != nil {
			return fmt.Errorf("model input: %w", err)
		}
		r.m.Inputs = append(r.m.Inputs, k)
	}
	ops, err := sg.tables(subgraphOperators, "operator")
	if err != nil {
		return err
	}
	for i := range ops.n {
		t, err := ops.at(i)
		if err != nil {
			return err
		}
		if err := r.readOp(t); err != nil {
			return fmt.Errorf("operator %d: %w", i, err)
		}
	}
	for _, i := range outs {
		k, err := r.activation(i)
		if err != nil {
			return fmt.Errorf("model output: %w", err)
		}
		r.m.Outputs = append(r.m.Outputs, k)
	}
	if len(r.m.Inputs) == 0 || len(r.m.Outputs) == 0 {
		return errors.New("the subgraph has no inputs or no outputs")
	}
	return nil
}

// maxRank bounds tensor ranks.
const maxRank = 8

// readTensor reads one tensor table.
func (r *reader) readTensor(t *ftable) (fileTensorIn, error) {
	var ft fileTensorIn
	var err error
	if ft.name, err = t.str(tensorName); err != nil {
		return ft, err
	}
	if ft.shape, err = t.int32s(tensorShape); err != nil {
		return ft, err
	}
	if len(ft.shape) > maxRank {
		return ft, fmt.Errorf("%q: rank %d, at most %d", ft.name, len(ft.shape), maxRank)
	}
	if ft.typ, err = t.u8(tensorType, 0); err != nil {
		return ft, err
	}
	buf, err := t.u32f(tensorBuffer, 0)
	if err != nil {
		return ft, err
	}
	if int64(buf) >= int64(len(r.buffers)) {
		return ft, fmt.Errorf("%q: buffer index %d out of range (%d buffers)", ft.name, buf, len(r.buffers))
	}
	if sp, err := t.field(tensorSparsity, 4); err != nil || sp != 0 {
		if err != nil {
			return ft, err
		}
		return ft, fmt.Errorf("%q: sparse tensors are not supported", ft.name)
	}
	ft.data = r.buffers[buf]
	size := 1
	for _, d := range ft.shape {
		if d < 0 {
			return ft, fmt.Errorf("%q: negative dimension in shape %v", ft.name, ft.shape)
		}
		var ok bool
		if size, ok = bounds.Mul(size, int(d)); !ok || size > math.MaxInt32 {
			return ft, fmt.Errorf("%q: shape %v has too many elements", ft.name, ft.shape)
		}
	}
	if ft.data != nil {
		es := map[uint8]int64{typeFloat32: 4, typeInt32: 4, typeInt8: 1, typeUint8: 1, typeInt64: 8, typeInt16: 2}[ft.typ]
		if es == 0 {
			return ft, fmt.Errorf("%q: constant of type %d is not supported", ft.name, ft.typ)
		}
		if int64(len(ft.data)) != int64(size)*es {
			return ft, fmt.Errorf("%q: %d bytes of data for shape %v (want %d)", ft.name, len(ft.data), ft.shape, int64(size)*es)
		}
	}
	q, err := t.sub(tensorQuantization, "quantization")
	if err != nil || q == nil {
		return ft, err
	}
	if ft.scales, err = q.float32s(quantScale); err != nil {
		return ft, err
	}
	if ft.zps, err = q.int64s(quantZeroPoint); err != nil {
		return ft, err
	}
	if ft.qdim, err = q.i32(quantDimension, 0); err != nil {
		return ft, err
	}
	if dt, err := q.u8(quantDetailsType, 0); err != nil || dt != 0 {
		if err != nil {
			return ft, err
		}
		return ft, fmt.Errorf("%q: custom quantization details are not supported", ft.name)
	}
	if len(ft.scales) != len(ft.zps) && len(ft.zps) != 0 {
		return ft, fmt.Errorf("%q: %d scales but %d zero points", ft.name, len(ft.scales), len(ft.zps))
	}
	return ft, nil
}

// tensorAt returns file tensor i, checking the index.
func (r *reader) tensorAt(i int32) (*fileTensorIn, error) {
	if i < 0 || int(i) >= len(r.tensors) {
		return nil, fmt.Errorf("tensor index %d out of range (%d tensors)", i, len(r.tensors))
	}
	return &r.tensors[i], nil
}

// activation returns the lite tensor of file tensor i (an activation:
// no constant data, batch 1, int8 with one scale and zero point, or
// float32), adding it on first use.
func (r *reader) activation(i int32) (int, error) {
	if k, ok := r.lmap[i]; ok {
		return k, nil
	}
	ft, err := r.tensorAt(i)
	if err != nil {
		return 0, err
	}
	if ft.data != nil {
		return 0, fmt.Errorf("tensor %q is a constant where an activation is expected", ft.name)
	}
	if len(ft.shape) < 2 || ft.shape[0] != 1 {
		return 0, fmt.Errorf("tensor %q: shape %v, want a batch of 1 and at least one more dimension", ft.name, ft.shape)
	}
	shape := make(tensor.Shape, len(ft.shape)-1)
	for j, d := range ft.shape[1:] {
		shape[j] = int(d)
	}
	if _, err := bounds.Values(shape); err != nil {
		return 0, fmt.Errorf("tensor %q: %w", ft.name, err)
	}
	lt := lite.Tensor{Name: ft.name, Shape: shape}
	switch ft.typ {
	case typeFloat32:
		lt.DType = lite.Float32
	case typeInt8:
		if len(ft.scales) != 1 || len(ft.zps) != 1 {
			return 0, fmt.Errorf("tensor %q: int8 activation with %d scales and %d zero points, want one each", ft.name, len(ft.scales), len(ft.zps))
		}
		if ft.zps[0] < -128 || ft.zps[0] > 127 {
			return 0, fmt.Errorf("tensor %q: zero point %d outside int8", ft.name, ft.zps[0])
		}
		lt.DType, lt.Scale, lt.ZeroPoint, lt.Bits = lite.Int8, ft.scales[0], int32(ft.zps[0]), 8
	default:
		return 0, fmt.Errorf("tensor %q: activation type %s is not supported (int8 and float32 are)", ft.name, typeName(ft.typ))
	}
	r.m.Tensors = append(r.m.Tensors, lt)
	k := len(r.m.Tensors) - 1
	r.lmap[i] = k
	return k, nil
}

// newTensor adds an intermediate lite tensor like t with another shape.
func (r *reader) newTensor(like int, name string, shape tensor.Shape) int {
	t := r.m.Tensors[like]
	t.Name, t.Shape = name, shape
	r.m.Tensors = append(r.m.Tensors, t)
	return len(r.m.Tensors) - 1
}

// typeName names a TensorType.
func typeName(t uint8) string {
	switch t {
	case typeFloat32:
		return "FLOAT32"
	case typeInt32:
		return "INT32"
	case typeUint8:
		return "UINT8"
	case typeInt64:
		return "INT64"
	case typeInt16:
		return "INT16"
	case typeInt8:
		return "INT8"
	}
	return fmt.Sprintf("type %d", t)
}

// init registers the format with lite, so that lite.Load and lite.IsFile
// (and every goqat command that reads integer models) accept .tflite
// files.
func init() {
	lite.RegisterFormat(lite.Format{Name: "TensorFlow Lite", Sniff: IsTFLite, Load: ReadFile})
}
