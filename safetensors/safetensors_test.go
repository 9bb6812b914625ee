package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawFile assembles a file from a header string and data, without padding.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func sampleFile() *File {
	return &File{
		Metadata: map[string]string{"format": "test", "note": "<&>"},
		Tensors: map[string]Tensor{
			"dense/kernel": F32([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -7}),
			"dense/bias":   F32([]int{3}, []float32{0.25, 0.5, 0.75}),
			"q/weights":    I8([]int{5}, []int8{-128, -1, 0, 1, 127}),
			"q/bytes":      U8([]int{3}, []uint8{0, 7, 255}),
			"q/bias":       I32([]int{2}, []int32{-1 << 31, 1<<31 - 1}),
			"step":         I64(nil, []int64{-42}),
			"scale":        F64([]int{1}, []float64{3.14159}),
			"empty":        F32([]int{0, 4}, nil),
		},
	}
}

func encode(t *testing.T, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	f := sampleFile()
	b := encode(t, f)
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	g, err := Read(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !reflect.DeepEqual(f.Metadata, g.Metadata) {
		t.Errorf("metadata %v, want %v", g.Metadata, f.Metadata)
	}
	if len(g.Tensors) != len(f.Tensors) {
		t.Fatalf("%d tensors, want %d", len(g.Tensors), len(f.Tensors))
	}
	for name, want := range f.Tensors {
		got := g.Tensors[name]
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, append([]int{}, want.Shape...)) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %+v, want %+v", name, got, want)
		}
	}
	k, err := g.Tensors["dense/kernel"].AsF32()
	if err != nil || !reflect.DeepEqual(k, []float32{1, -2, 3.5, 0, 1e-30, -7}) {
		t.Errorf("AsF32: %v, %v", k, err)
	}
	w, err := g.Tensors["q/weights"].AsI8()
	if err != nil || !reflect.DeepEqual(w, []int8{-128, -1, 0, 1, 127}) {
		t.Errorf("AsI8: %v, %v", w, err)
	}
	u, err := g.Tensors["q/bytes"].AsU8()
	if err != nil || !reflect.DeepEqual(u, []uint8{0, 7, 255}) {
		t.Errorf("AsU8: %v, %v", u, err)
	}
	q, err := g.Tensors["q/bias"].AsI32()
	if err != nil || !reflect.DeepEqual(q, []int32{-1 << 31, 1<<31 - 1}) {
		t.Errorf("AsI32: %v, %v", q, err)
	}
	s, err := g.Tensors["step"].AsI64()
	if err != nil || !reflect.DeepEqual(s, []int64{-42}) {
		t.Errorf("AsI64: %v, %v", s, err)
	}
	d, err := g.Tensors["scale"].AsF64()
	if err != nil || !reflect.DeepEqual(d, []float64{3.14159}) {
		t.Errorf("AsF64: %v, %v", d, err)
	}
	// Layout: the data starts at a multiple of 8 in the file and every
	// tensor at a multiple of its element size.
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &entries); err != nil {
		t.Fatal(err)
	}
	for name, raw := range entries {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Offsets []int  `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if e.Offsets[0]%DTypeSize(e.DType) != 0 {
			t.Errorf("tensor %q of %s starts at %d", name, e.DType, e.Offsets[0])
		}
	}
	hdr := string(b[8 : 8+n])
	if !strings.HasPrefix(hdr, `{"__metadata__":{"format":"test","note":"<&>"},"scale":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},`) {
		t.Errorf("header layout: %s", hdr)
	}
	if !strings.Contains(hdr, `"step":{"dtype":"I64","shape":[],`) {
		t.Errorf("scalar shape not written as []: %s", hdr)
	}
}

func TestAlignment(t *testing.T) {
	f := &File{Tensors: map[string]Tensor{
		"a": I8([]int{3}, []int8{1, 2, 3}),
		"b": F64([]int{1}, []float64{1}),
		"c": I32([]int{1}, []int32{1}),
		"d": U8([]int{1}, []uint8{1}),
	}}
	b := encode(t, f)
	n := binary.LittleEndian.Uint64(b)
	hdr := string(bytes.TrimRight(b[8:8+n], " "))
	want := `{"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"c":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},` +
		`"a":{"dtype":"I8","shape":[3],"data_offsets":[12,15]},"d":{"dtype":"U8","shape":[1],"data_offsets":[15,16]}}`
	if hdr != want {
		t.Errorf("header\n got %s\nwant %s", hdr, want)
	}
}

func TestWriteFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	f := sampleFile()
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(path, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Metadata, f.Metadata) || len(g.Tensors) != len(f.Tensors) {
		t.Errorf("ReadFile differs: %v", g.Metadata)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := WriteFile(path, sampleFile()); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := sampleFile()
	bad.Tensors["dense/kernel"] = Tensor{DType: "F32", Shape: []int{2, 3}, Data: make([]byte, 20)}
	err = WriteFile(path, bad)
	want := path + `: tensor "dense/kernel": 20 bytes of data do not match shape (2, 3) of F32 (24 bytes)`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v\nwant %s", err, want)
	}
	for _, tn := range []Tensor{
		{DType: "F17", Shape: []int{1}, Data: make([]byte, 4)},
		{DType: "F32", Shape: []int{-1}, Data: nil},
	} {
		bad.Tensors["dense/kernel"] = tn
		if err := WriteFile(path, bad); err == nil {
			t.Errorf("WriteFile accepted %+v", tn)
		}
	}
	bad.Tensors = map[string]Tensor{"__metadata__": F32(nil, []float32{1})}
	if err := WriteFile(path, bad); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("reserved name: %v", err)
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Errorf("failed write changed the file (err %v)", err)
	}
	// A write that fails after the temp file is created (here: the path is a
	// directory, so the rename fails) leaves no temp file behind.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, sampleFile()); err == nil {
		t.Errorf("WriteFile over a non-empty directory succeeded")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"model.safetensors", "sub"}) {
		t.Errorf("directory holds %v, want only model.safetensors and sub", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.safetensors"), sampleFile()); err == nil {
		t.Errorf("WriteFile into a missing directory succeeded")
	}
}

func TestAsErrors(t *testing.T) {
	if _, err := I8([]int{2}, []int8{1, 2}).AsF32(); err == nil || !strings.Contains(err.Error(), "dtype I8, want F32") {
		t.Errorf("AsF32 on I8: %v", err)
	}
	short := Tensor{DType: "F32", Shape: []int{3}, Data: make([]byte, 8)}
	if _, err := short.AsF32(); err == nil || !strings.Contains(err.Error(), "8 bytes of data do not match shape (3,) of F32 (12 bytes)") {
		t.Errorf("AsF32 short: %v", err)
	}
	if _, err := (Tensor{DType: "I32", Shape: []int{2, -2}}).AsI32(); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("AsI32 negative: %v", err)
	}
}

func TestReadMalformed(t *testing.T) {
	f32x4 := make([]byte, 16)
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, 1<<40)
	cases := []struct {
		name string
		file []byte
		lim  Limits
		want string
	}{
		{"truncated length", []byte{1, 2, 3}, Limits{}, "file is 3 bytes, too short for the 8-byte header length"},
		{"huge header length", append(big, '{', '}'), Limits{}, "header length 1099511627776 exceeds the limit of 16777216 bytes"},
		{"header past end", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32x4)[:30], Limits{}, "header length 55 exceeds the 22 bytes after the length field (truncated file?)"},
		{"not JSON", rawFile(`{abc}`, nil), Limits{}, "header is not valid JSON"},
		{"not an object", rawFile(`[1, 2]`, nil), Limits{}, "header is not a JSON object"},
		{"empty header", rawFile(``, nil), Limits{}, "header is not a JSON object"},
		{"invalid UTF-8", rawFile("{\"\xff\":1}", nil), Limits{}, "not valid UTF-8"},
		{"trailing data", rawFile(`{} {}`, nil), Limits{}, "data after its JSON object"},
		{"duplicate key", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), Limits{}, `duplicate key "a"`},
		{"entry not object", rawFile(`{"a":[1]}`, nil), Limits{}, `tensor "a": entry is not a JSON object`},
		{"unknown field", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":1}}`, nil), Limits{}, `tensor "a": bad entry`},
		{"missing field", rawFile(`{"a":{"dtype":"U8","data_offsets":[0,0]}}`, nil), Limits{}, `tensor "a": entry has no shape`},
		{"bad dtype", rawFile(`{"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}}`, f32x4), Limits{}, `tensor "a": unknown dtype "F33"`},
		{"dtype not string", rawFile(`{"a":{"dtype":4,"shape":[4],"data_offsets":[0,16]}}`, f32x4), Limits{}, `tensor "a": dtype is not a string`},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}`, f32x4), Limits{}, `tensor "a": shape [-4] has a negative dimension`},
		{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,16]}}`, f32x4), Limits{}, `tensor "a": shape [1.5] is not a list of integers`},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, f32x4), Limits{}, `tensor "a": shape (4294967296, 4294967296) has too many elements`},
		{"overflowing bytes", rawFile(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}}`, f32x4), Limits{}, `do not match shape (4611686018427387904,) of F64 (too many bytes)`},
		{"offsets not pair", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}}`, f32x4), Limits{}, `tensor "a": data_offsets [0] is not a list of two integers`},
		// Found by FuzzRead: raw JSON echoed into the error kept its line break.
		{"offsets with newline", rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\n16]}}", f32x4), Limits{}, `tensor "a": data_offsets [16] is not a list of two integers`},
		{"shape with newline", rawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[\n1.5],\"data_offsets\":[0,16]}}", f32x4), Limits{}, `tensor "a": shape [1.5] is not a list of integers`},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}`, f32x4), Limits{}, `tensor "a": data_offsets [16, 0] are not 0 <= begin <= end`},
		{"mismatched size", rawFile(`{"dense/kernel":{"dtype":"F32","shape":[10,10],"data_offsets":[0,100]}}`, make([]byte, 100)), Limits{}, `safetensors: tensor "dense/kernel": data_offsets [0, 100] do not match shape (10, 10) of F32 (400 bytes)`},
		{"offsets past end", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`, f32x4), Limits{}, `tensor "a": data_offsets [8, 24] exceed the 16 bytes of data`},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32x4), Limits{}, `tensor "b": data_offsets [8, 16] overlap tensor "a", which ends at 12`},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32x4), Limits{}, `tensor "b": data_offsets [8, 16] leave bytes [4, 8) unused`},
		{"leading gap", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}`, f32x4), Limits{}, `tensor "a": data_offsets [4, 16] leave bytes [0, 4) unused`},
		{"trailing bytes", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, f32x4), Limits{}, `the tensors cover 12 bytes but the data region has 16`},
		{"metadata not string map", rawFile(`{"__metadata__":{"a":1}}`, nil), Limits{}, `__metadata__ is not a map of strings to strings`},
		{"metadata not object", rawFile(`{"__metadata__":"x"}`, nil), Limits{}, `__metadata__ is not a map of strings to strings`},
		{"too many tensors", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), Limits{MaxTensors: 1}, `more than 1 tensors`},
		{"data over limit", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32x4), Limits{MaxTotal: 8}, `data region of 16 bytes exceeds the limit of 8 bytes`},
		{"header over limit", rawFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32x4), Limits{MaxHeader: 8}, `header length 55 exceeds the limit of 8 bytes`},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.file), int64(len(c.file)), c.lim)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %q, want one line containing %q", c.name, err, c.want)
		}
	}
}

func TestReadFileNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	raw := rawFile(`{"dense/kernel":{"dtype":"F32","shape":[10,10],"data_offsets":[0,100]}}`, make([]byte, 100))
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path, Limits{})
	want := path + `: tensor "dense/kernel": data_offsets [0, 100] do not match shape (10, 10) of F32 (400 bytes)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if _, err := ReadFile(filepath.Dir(path), Limits{}); err == nil {
		t.Errorf("ReadFile of a directory succeeded")
	}
}

func TestReadAccepts(t *testing.T) {
	// Padding, scalars, empty tensors, null metadata and an empty file.
	for _, c := range []struct {
		hdr  string
		data []byte
		n    int
	}{
		{`{}`, nil, 0},
		{`{"__metadata__":null}    `, nil, 0},
		{`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"I8","shape":[0,3],"data_offsets":[0,0]}}  `, make([]byte, 4), 2},
		{`{"e":{"dtype":"I8","shape":[0],"data_offsets":[4,4]},"s":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4), 2},
	} {
		b := rawFile(c.hdr, c.data)
		f, err := Read(bytes.NewReader(b), int64(len(b)), Limits{})
		if err != nil {
			t.Errorf("%s: %v", c.hdr, err)
			continue
		}
		if len(f.Tensors) != c.n {
			t.Errorf("%s: %d tensors, want %d", c.hdr, len(f.Tensors), c.n)
		}
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := Write(&b, sampleFile()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, make([]byte, 16)))
	f.Add(rawFile(`{"__metadata__":{"k":"v"}}`, nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)), Limits{MaxTotal: 1 << 20})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		// A file that reads must write and read back to the same content.
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("Write of a file that was read: %v", err)
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()), Limits{})
		if err != nil {
			t.Fatalf("Read of a written file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) || len(again.Metadata) != len(file.Metadata) {
			t.Fatalf("round trip changed the file")
		}
		for k, v := range file.Metadata {
			if again.Metadata[k] != v {
				t.Fatalf("metadata %q changed", k)
			}
		}
		for name, tn := range file.Tensors {
			g := again.Tensors[name]
			if g.DType != tn.DType || !reflect.DeepEqual(g.Shape, tn.Shape) || !bytes.Equal(g.Data, tn.Data) {
				t.Fatalf("tensor %q changed", name)
			}
		}
	})
}

// TestReadOtherFormats gives the reader files of other formats: the error
// names the format (an ONNX model, with the command that imports it)
// instead of a header length of about 10^18.
func TestReadOtherFormats(t *testing.T) {
	// ir_version 7, producer_name "pytorch", producer_version "2.1".
	onnxHead := append([]byte{0x08, 0x07, 0x12, 0x07}, "pytorch\x1a\x032.1"...)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"onnx", onnxHead, "this is an ONNX model, not a safetensors file (goqat import converts it to a goqat model)"},
		{"onnx, ir_version 10, graph first", []byte{0x08, 0x0a, 0x3a, 0x40, 1, 2, 3, 4, 5, 6, 7, 8}, "an ONNX model"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "a PNG image"},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, "a gzip file"},
		{"json", []byte("{\n  \"accuracy\": 0.99\n}\n"), "a JSON file"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), "a ZIP archive"},
	}
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.file), int64(len(c.file)), Limits{})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "header length") {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// A file that is none of these keeps the header-length message.
	junk := []byte{0x07, 0x08, 0x12, 0x07, 1, 2, 3, 4, 5, 6, 7, 8}
	if _, err := Read(bytes.NewReader(junk), int64(len(junk)), Limits{}); err == nil || !strings.Contains(err.Error(), "header length") {
		t.Errorf("junk: %v", err)
	}
	// The file's name leads the message.
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, onnxHead, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, Limits{}); err == nil || !strings.HasPrefix(err.Error(), path+": this is an ONNX model") {
		t.Errorf("ReadFile: %v", err)
	}
}
