package lite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/safetensors"
)

// MetadataKey is the safetensors metadata key holding an integer model's
// description (JSON of Model without the weights); its presence tells an
// integer model file from a float or QAT one.
const MetadataKey = "goqat.lite"

// formatVersion is the version of the file layout written by Save.
const formatVersion = 1

// fileHeader is the JSON stored under MetadataKey.
type fileHeader struct {
	Version int    `json:"version"`
	Model   *Model `json:"model"`
}

// weightsName and biasName name op k's tensors in a file.
func weightsName(k int) string { return fmt.Sprintf("ops.%d.weights", k) }
func biasName(k int) string    { return fmt.Sprintf("ops.%d.bias", k) }

// Save writes m as a safetensors file: the description as JSON metadata
// (key MetadataKey), each kernel as an I8 tensor (8-bit) or packed in a U8
// tensor (bits < 8: ceil(n*bits/8) bytes, values in two's complement,
// least significant bits first: two 4-bit or four 2-bit values per byte),
// and each bias as an I32 tensor. The model is validated first.
func Save(path string, m *Model) error {
	f, err := encode(m)
	if err != nil {
		return err
	}
	return safetensors.WriteFile(path, f)
}

// encode builds the safetensors content of m.
func encode(m *Model) (*safetensors.File, error) {
	if m == nil {
		return nil, errors.New("lite: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	meta, err := encodeUnchecked(m)
	if err != nil {
		return nil, err
	}
	f := &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{}}
	for k := range m.Ops {
		op := &m.Ops[k]
		if !op.Type.hasWeights() {
			continue
		}
		if op.WeightBits == 8 {
			f.Tensors[weightsName(k)] = safetensors.I8([]int{len(op.Weights)}, op.Weights)
		} else {
			p := packBits(op.Weights, op.WeightBits)
			f.Tensors[weightsName(k)] = safetensors.U8([]int{len(p)}, p)
		}
		if op.Bias != nil {
			f.Tensors[biasName(k)] = safetensors.I32([]int{len(op.Bias)}, op.Bias)
		}
	}
	return f, nil
}

// encodeUnchecked returns the metadata describing m, without validating.
func encodeUnchecked(m *Model) (map[string]string, error) {
	hdr, err := json.Marshal(fileHeader{Version: formatVersion, Model: m})
	if err != nil {
		return nil, fmt.Errorf("lite: %w", err)
	}
	return map[string]string{MetadataKey: string(hdr)}, nil
}

// packBits packs signed bits-bit values (2..7 bits) into bytes, least
// significant bits first.
func packBits(v []int8, bits int) []byte {
	out := make([]byte, (len(v)*bits+7)/8)
	mask := uint(1)<<bits - 1
	for i, x := range v {
		u := uint(uint8(x)) & mask
		pos := i * bits
		out[pos/8] |= byte(u << (pos % 8))
		if pos%8+bits > 8 {
			out[pos/8+1] |= byte(u >> (8 - pos%8))
		}
	}
	return out
}

// unpackBits is packBits' inverse for n values (sign-extended).
func unpackBits(p []byte, n, bits int) []int8 {
	out := make([]int8, n)
	mask := uint(1)<<bits - 1
	for i := range out {
		pos := i * bits
		u := uint(p[pos/8]) >> (pos % 8)
		if pos%8+bits > 8 {
			u |= uint(p[pos/8+1]) << (8 - pos%8)
		}
		u &= mask
		if u&(1<<(bits-1)) != 0 {
			out[i] = int8(int(u) - (1 << bits))
		} else {
			out[i] = int8(u)
		}
	}
	return out
}

// Load reads an integer model saved by Save and validates it strictly:
// the metadata (unknown fields rejected), every tensor's dtype and size,
// missing and extra tensors, then the whole model (Validate: scales,
// zero points, shapes, ops), its work and memory (CheckBounds) and what
// the interpreter checks when it prepares the ops. Errors name the file
// and the tensor or op.
//
// A file of a registered format (RegisterFormat) is read by that format's
// reader instead.
func Load(path string) (*Model, error) {
	if fm, _ := sniffFormat(path); fm != nil {
		return fm.Load(path)
	}
	f, err := safetensors.ReadFile(path, safetensors.Limits{})
	if err != nil {
		return nil, fmt.Errorf("lite: %w", err)
	}
	m, err := decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read reads an integer model from a safetensors stream of size bytes, as
// Load.
func Read(r io.ReaderAt, size int64) (*Model, error) {
	f, err := safetensors.Read(r, size, safetensors.Limits{})
	if err != nil {
		return nil, fmt.Errorf("lite: %w", err)
	}
	return decode(f)
}

// IsFile reports whether the safetensors file at path holds an integer
// model (its metadata has MetadataKey), or whether the file is of a
// registered format (RegisterFormat).
func IsFile(path string) (bool, error) {
	if fm, _ := sniffFormat(path); fm != nil {
		return true, nil
	}
	f, err := safetensors.ReadFile(path, safetensors.Limits{})
	if err != nil {
		return false, err
	}
	_, ok := f.Metadata[MetadataKey]
	return ok, nil
}

// Format is another file format integer models are read from, told
// apart by the first bytes of its files (format/tflite registers
// TensorFlow Lite's). docs/DESIGN.md, File formats.
type Format struct {
	// Name names the format in errors.
	Name string
	// Sniff reports whether a file starting with head (up to 16 bytes)
	// is of the format.
	Sniff func(head []byte) bool
	// Load reads and validates a model from the file at path.
	Load func(path string) (*Model, error)
}

// formats holds the registered formats.
var formats struct {
	sync.RWMutex
	list []Format
}

// RegisterFormat registers a format so that Load and IsFile, and so every
// command that reads integer models, accept its files. Formats register in
// their package's init.
func RegisterFormat(f Format) {
	formats.Lock()
	defer formats.Unlock()
	formats.list = append(formats.list, f)
}

// sniffFormat returns the registered format of the file at path, or nil
// (also when it is not a regular file or cannot be opened).
func sniffFormat(path string) (*Format, error) {
	formats.RLock()
	defer formats.RUnlock()
	if len(formats.list) == 0 {
		return nil, nil
	}
	// Only regular files are opened (a FIFO would block the open and
	// lose the bytes read); the safetensors reader reports the others.
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	for i := range formats.list {
		if formats.list[i].Sniff(head[:n]) {
			fm := formats.list[i]
			return &fm, nil
		}
	}
	return nil, nil
}

// decode builds and validates a model from a file's content.
func decode(f *safetensors.File) (*Model, error) {
	raw, ok := f.Metadata[MetadataKey]
	if !ok {
		return nil, fmt.Errorf("lite: no %q metadata: not an integer model (convert a QAT model with goqat convert)", MetadataKey)
	}
	var hdr fileHeader
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("lite: metadata %q: %w", MetadataKey, err)
	}
	if hdr.Version != formatVersion {
		return nil, fmt.Errorf("lite: format version %d, want %d", hdr.Version, formatVersion)
	}
	m := hdr.Model
	if m == nil {
		return nil, errors.New("lite: metadata has no model")
	}
	used := map[string]bool{}
	for k := range m.Ops {
		op := &m.Ops[k]
		if !op.Type.hasWeights() {
			continue
		}
		if err := decodeWeights(f, k, op, used); err != nil {
			return nil, fmt.Errorf("lite: op %d (%s %q): %w", k, op.Type, op.Name, err)
		}
	}
	var extra []string
	for name := range f.Tensors {
		if !used[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("lite: unexpected tensor %q (no op uses it)", extra[0])
	}
	// Validated, then planned: the work and memory it would take
	// (docs/RELIABILITY.md, Resource bounds); then every op prepared as an
	// interpreter prepares it (its quantization parameters checked: fixed
	// output ranges, multipliers in range), so that a model that loads
	// runs.
	if _, err := NewInterpreter(m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeWeights reads op k's kernel and bias tensors.
func decodeWeights(f *safetensors.File, k int, op *Op, used map[string]bool) error {
	if op.WeightBits < 2 || op.WeightBits > 8 {
		return fmt.Errorf("%d weight bits (want 2..8)", op.WeightBits)
	}
	if _, err := bounds.Values(op.WeightShape); err != nil || len(op.WeightShape) == 0 {
		return fmt.Errorf("bad weight shape %v", op.WeightShape)
	}
	n := op.WeightShape.Size()
	name := weightsName(k)
	t, ok := f.Tensors[name]
	if !ok {
		return fmt.Errorf("tensor %q is missing", name)
	}
	used[name] = true
	if op.WeightBits == 8 {
		if t.DType != "I8" {
			return fmt.Errorf("tensor %q is %s, want I8", name, t.DType)
		}
		w, err := t.AsI8()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if len(w) != n {
			return fmt.Errorf("tensor %q has %d values, want %d for shape %v", name, len(w), n, op.WeightShape)
		}
		op.Weights = w
	} else {
		if t.DType != "U8" {
			return fmt.Errorf("tensor %q is %s, want U8 (%d-bit packed)", name, t.DType, op.WeightBits)
		}
		p, err := t.AsU8()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if want := (n*op.WeightBits + 7) / 8; len(p) != want {
			return fmt.Errorf("tensor %q has %d bytes, want %d for %d %d-bit values", name, len(p), want, n, op.WeightBits)
		}
		op.Weights = unpackBits(p, n, op.WeightBits)
	}
	name = biasName(k)
	t, ok = f.Tensors[name]
	if !ok {
		return nil // no bias
	}
	used[name] = true
	if t.DType != "I32" {
		return fmt.Errorf("tensor %q is %s, want I32", name, t.DType)
	}
	b, err := t.AsI32()
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	if oc := op.WeightShape[len(op.WeightShape)-1]; len(b) != oc && !(op.Type == OpGRU && len(b) == 2*oc) {
		return fmt.Errorf("tensor %q has %d values, want %d output channels", name, len(b), oc)
	}
	op.Bias = b
	return nil
}
