package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
)

// Write writes f to w in the safetensors format, laid out like the
// reference implementation: tensors ordered by decreasing dtype size, then
// by name, so that every tensor starts at a multiple of its element size and
// the data has no gaps; the header is padded with spaces so that the data
// starts at a multiple of 8 bytes. It returns an error, before writing
// anything, if a tensor has an unknown dtype, a negative dimension or a
// data length that does not match its shape.
func Write(w io.Writer, f *File) error {
	header, order, err := encodeHeader(f)
	if err != nil {
		return fmt.Errorf("safetensors: %v", err)
	}
	return writeTo(w, f, header, order)
}

// WriteFile writes f to path atomically: it writes a temporary file in the
// same directory, syncs it, renames it over path and syncs the directory, so
// that path holds either its old content or the complete new file, never a
// partial one. The file is validated (as Write does) before anything is
// created.
func WriteFile(path string, f *File) (err error) {
	header, order, err := encodeHeader(f)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("%s: %v", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = writeTo(bw, f, header, order); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync directories.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeTo writes the length, the header and the data in order.
func writeTo(w io.Writer, f *File, header []byte, order []string) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, name := range order {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader validates f and returns its padded JSON header and the order
// of the tensors in the data.
func encodeHeader(f *File) ([]byte, []string, error) {
	if f == nil {
		return nil, nil, fmt.Errorf("nil File")
	}
	order := make([]string, 0, len(f.Tensors))
	for name, t := range f.Tensors {
		if name == metaKey {
			return nil, nil, fmt.Errorf("tensor name %q is reserved", name)
		}
		if err := t.check(); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		order = append(order, name)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := f.Tensors[order[i]], f.Tensors[order[j]]
		if sa, sb := dtypeSizes[a.DType], dtypeSizes[b.DType]; sa != sb {
			return sa > sb
		}
		return order[i] < order[j]
	})
	var h bytes.Buffer
	h.WriteByte('{')
	sep := ""
	if len(f.Metadata) > 0 {
		h.WriteString(`"` + metaKey + `":`)
		h.Write(marshal(f.Metadata)) // map keys are sorted by encoding/json
		sep = ","
	}
	var off int64
	for _, name := range order {
		t := f.Tensors[name]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := off + int64(len(t.Data))
		fmt.Fprintf(&h, `%s%s:{"dtype":%s,"shape":%s,"data_offsets":[%d,%d]}`,
			sep, marshal(name), marshal(t.DType), marshal(shape), off, end)
		sep = ","
		off = end
	}
	h.WriteByte('}')
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), order, nil
}

// marshal encodes v as compact JSON without HTML escaping. It is used only
// on strings, string maps and int slices, which always encode.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("safetensors: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
