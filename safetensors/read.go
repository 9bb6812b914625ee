package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/goqat/goqat/internal/fileio"
)

// Limits bounds what a reader accepts, so that a hostile or corrupt file
// cannot make it allocate without bound. Zero fields take their defaults.
type Limits struct {
	// MaxHeader is the largest JSON header accepted, in bytes (default 16
	// MiB).
	MaxHeader int64
	// MaxTotal is the largest data region accepted, in bytes (default 4
	// GiB).
	MaxTotal int64
	// MaxTensors is the largest number of tensors accepted (default 65536).
	MaxTensors int
}

// Default limits.
const (
	DefaultMaxHeader  = 16 << 20
	DefaultMaxTotal   = 4 << 30
	DefaultMaxTensors = 1 << 16
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeader <= 0 {
		l.MaxHeader = DefaultMaxHeader
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultMaxTotal
	}
	if l.MaxTensors <= 0 {
		l.MaxTensors = DefaultMaxTensors
	}
	return l
}

// ReadFile reads and validates the safetensors file at path. Errors name the
// file, the tensor and the problem on one line.
func ReadFile(path string, lim Limits) (*File, error) {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(path, f, size, lim)
}

// Read reads and validates a safetensors file of size bytes from r.
func Read(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	return read("", r, size, lim)
}

// entry is one tensor of a header, as parsed.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64
}

// rawEntry is a header value before its fields are checked one by one.
type rawEntry struct {
	DType       json.RawMessage `json:"dtype"`
	Shape       json.RawMessage `json:"shape"`
	DataOffsets json.RawMessage `json:"data_offsets"`
}

// reader formats errors for one file.
type reader struct{ name string }

func (rd reader) errorf(format string, args ...any) error {
	prefix := "safetensors: "
	if rd.name != "" {
		prefix = rd.name + ": "
	}
	// Values echoed from a hostile header could hold line breaks; an error
	// stays one line whatever the file holds.
	msg := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, fmt.Sprintf(format, args...))
	return errors.New(prefix + msg)
}

// compactJSON renders a raw JSON value from a header on one short line for an
// error message.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return s
}

func (rd reader) tensorErrorf(tensor, format string, args ...any) error {
	return rd.errorf("tensor %q: %s", tensor, fmt.Sprintf(format, args...))
}

func read(name string, r io.ReaderAt, size int64, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	rd := reader{name}
	if size < 8 {
		return nil, rd.errorf("file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, rd.errorf("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(lim.MaxHeader) || n > uint64(size-8) {
		if what := otherFormat(r, size); what != "" {
			return nil, rd.errorf("this is %s", what)
		}
	}
	if n > uint64(lim.MaxHeader) {
		return nil, rd.errorf("header length %d exceeds the limit of %d bytes", n, lim.MaxHeader)
	}
	if n > uint64(size-8) {
		return nil, rd.errorf("header length %d exceeds the %d bytes after the length field (truncated file?)", n, size-8)
	}
	dataSize := size - 8 - int64(n)
	if dataSize > lim.MaxTotal {
		return nil, rd.errorf("data region of %d bytes exceeds the limit of %d bytes", dataSize, lim.MaxTotal)
	}
	header := make([]byte, n)
	if k, err := r.ReadAt(header, 8); k != len(header) {
		return nil, rd.errorf("reading header: %v", err)
	}
	meta, entries, err := rd.parseHeader(header, lim)
	if err != nil {
		return nil, err
	}
	if err := rd.checkLayout(entries, dataSize); err != nil {
		return nil, err
	}
	data := make([]byte, dataSize)
	if dataSize > 0 {
		if k, err := r.ReadAt(data, 8+int64(n)); k != len(data) {
			return nil, rd.errorf("reading data: %v", err)
		}
	}
	f := &File{Metadata: meta, Tensors: make(map[string]Tensor, len(entries))}
	for _, e := range entries {
		f.Tensors[e.name] = Tensor{DType: e.dtype, Shape: e.shape, Data: data[e.begin:e.end:e.end]}
	}
	return f, nil
}

// parseHeader decodes the JSON header strictly: an object whose values are
// tensor entries {dtype, shape, data_offsets}, plus an optional
// "__metadata__" string map; no duplicate keys, no unknown fields, nothing
// after the object but padding. Each entry is checked on its own (dtype,
// shape, offsets against shape); the layout is checked by checkLayout.
func (rd reader) parseHeader(header []byte, lim Limits) (map[string]string, []entry, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, rd.errorf("header is not a JSON object (it must start with '{')")
	}
	if !utf8.Valid(header) {
		return nil, nil, rd.errorf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil {
		return nil, nil, rd.errorf("header is not valid JSON: %v", err)
	}
	var (
		meta    map[string]string
		entries []entry
		seen    = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, rd.errorf("header is not valid JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, rd.errorf("header is not valid JSON: unexpected %v", tok)
		}
		if seen[key] {
			return nil, nil, rd.errorf("header has duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, rd.errorf("header is not valid JSON: %v", err)
		}
		if key == metaKey {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, rd.errorf("__metadata__ is not a map of strings to strings")
			}
			continue
		}
		if len(entries) >= lim.MaxTensors {
			return nil, nil, rd.errorf("header has more than %d tensors", lim.MaxTensors)
		}
		e, err := rd.parseEntry(key, raw)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, rd.errorf("header is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, rd.errorf("header has data after its JSON object")
	}
	return meta, entries, nil
}

// parseEntry checks one tensor entry: known dtype, non-negative dimensions
// whose product does not overflow, offsets [begin, end] with begin <= end
// and end - begin = elements * dtype size.
func (rd reader) parseEntry(name string, raw json.RawMessage) (entry, error) {
	e := entry{name: name}
	if len(raw) == 0 || raw[0] != '{' {
		return e, rd.tensorErrorf(name, "entry is not a JSON object")
	}
	var re rawEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&re); err != nil {
		return e, rd.tensorErrorf(name, "bad entry: %v", err)
	}
	for _, f := range []struct {
		key string
		v   json.RawMessage
	}{{"dtype", re.DType}, {"shape", re.Shape}, {"data_offsets", re.DataOffsets}} {
		if len(f.v) == 0 || string(f.v) == "null" {
			return e, rd.tensorErrorf(name, "entry has no %s", f.key)
		}
	}
	if err := json.Unmarshal(re.DType, &e.dtype); err != nil {
		return e, rd.tensorErrorf(name, "dtype is not a string")
	}
	size := dtypeSizes[e.dtype]
	if size == 0 {
		return e, rd.tensorErrorf(name, "unknown dtype %q", e.dtype)
	}
	var dims []int64
	if err := json.Unmarshal(re.Shape, &dims); err != nil {
		return e, rd.tensorErrorf(name, "shape %s is not a list of integers", compactJSON(re.Shape))
	}
	e.shape = make([]int, len(dims))
	for i, d := range dims {
		if d < 0 {
			return e, rd.tensorErrorf(name, "shape %s has a negative dimension", compactJSON(re.Shape))
		}
		if uint64(d) > math.MaxInt {
			return e, rd.tensorErrorf(name, "shape %s has a dimension too large", compactJSON(re.Shape))
		}
		e.shape[i] = int(d)
	}
	elems, err := numElements(e.shape)
	if err != nil {
		return e, rd.tensorErrorf(name, "%v", err)
	}
	var offs []int64
	if err := json.Unmarshal(re.DataOffsets, &offs); err != nil || len(offs) != 2 {
		return e, rd.tensorErrorf(name, "data_offsets %s is not a list of two integers", compactJSON(re.DataOffsets))
	}
	e.begin, e.end = offs[0], offs[1]
	if e.begin < 0 || e.end < e.begin {
		return e, rd.tensorErrorf(name, "data_offsets [%d, %d] are not 0 <= begin <= end", e.begin, e.end)
	}
	if elems > math.MaxInt64/size || e.end-e.begin != int64(elems*size) {
		return e, rd.tensorErrorf(name, "data_offsets [%d, %d] do not match shape %s of %s (%s bytes)",
			e.begin, e.end, formatShape(e.shape), e.dtype, bytesFor(elems, size))
	}
	return e, nil
}

// checkLayout checks that every tensor lies inside the data region and that
// the tensors cover it exactly: no overlap, no hole, nothing left over.
func (rd reader) checkLayout(entries []entry, dataSize int64) error {
	for _, e := range entries {
		if e.end > dataSize {
			return rd.tensorErrorf(e.name, "data_offsets [%d, %d] exceed the %d bytes of data", e.begin, e.end, dataSize)
		}
	}
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	var pos int64
	prev := ""
	for _, e := range sorted {
		switch {
		case e.begin < pos:
			return rd.tensorErrorf(e.name, "data_offsets [%d, %d] overlap tensor %q, which ends at %d", e.begin, e.end, prev, pos)
		case e.begin > pos:
			return rd.tensorErrorf(e.name, "data_offsets [%d, %d] leave bytes [%d, %d) unused (the data must have no gaps)", e.begin, e.end, pos, e.begin)
		}
		if e.end > e.begin {
			pos, prev = e.end, e.name
		}
	}
	if pos != dataSize {
		return rd.errorf("the tensors cover %d bytes but the data region has %d (the data must have no gaps)", pos, dataSize)
	}
	return nil
}
