package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encodeIDX writes an IDX file with the given type code, dimensions and data
// (not checked against each other, so that tests can make bad files).
func encodeIDX(typeCode byte, dims []uint32, data []byte) []byte {
	b := []byte{0, 0, typeCode, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

// gzipBytes compresses b.
func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// seq returns n bytes 0, 1, 2, ... (mod 256).
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestReadIDXPlainAndGzip(t *testing.T) {
	cases := []struct {
		name string
		dims []int
	}{
		{"images", []int{2, 3, 4}},
		{"labels", []int{5}},
		{"empty", []int{0, 28, 28}},
		{"four dims", []int{2, 1, 3, 2}},
	}
	for _, c := range cases {
		n := 1
		udims := make([]uint32, len(c.dims))
		for i, d := range c.dims {
			n *= d
			udims[i] = uint32(d)
		}
		data := seq(n)
		plain := encodeIDX(0x08, udims, data)
		for _, gz := range []bool{false, true} {
			file := plain
			if gz {
				file = gzipBytes(t, plain)
			}
			idx, err := ReadIDX(bytes.NewReader(file), 1<<20)
			if err != nil {
				t.Fatalf("%s gzip=%v: %v", c.name, gz, err)
			}
			if !slices.Equal(idx.Dims, c.dims) || !bytes.Equal(idx.Data, data) || len(idx.Data) != n {
				t.Errorf("%s gzip=%v: got dims %v data %v, want %v %v", c.name, gz, idx.Dims, idx.Data, c.dims, data)
			}
		}
	}
}

func TestReadIDXRejects(t *testing.T) {
	valid := encodeIDX(0x08, []uint32{3, 4}, seq(12))
	cases := []struct {
		name    string
		file    []byte
		maxSize int64
		want    string
	}{
		{"bad magic", append([]byte{1, 2}, valid[2:]...), 0, "bad magic 0x01020802"},
		{"unknown type", encodeIDX(0x07, []uint32{3, 4}, seq(12)), 0, "unknown data type code 0x07"},
		{"float32 type", encodeIDX(0x0D, []uint32{3}, seq(12)), 0, "data type 0x0d (float32) is not supported"},
		{"int32 type", encodeIDX(0x0C, []uint32{3}, seq(12)), 0, "data type 0x0c (int32) is not supported"},
		{"zero dims", encodeIDX(0x08, nil, nil), 0, "zero dimensions"},
		{"empty file", nil, 0, "truncated header"},
		{"short header", []byte{0, 0, 8}, 0, "truncated header"},
		{"short dims", valid[:6], 0, "truncated dimensions"},
		{"truncated data", valid[:len(valid)-7], 0, "truncated: want 12 bytes of data, got 5"},
		{"no data", valid[:12], 0, "truncated: want 12 bytes of data, got 0"},
		{"trailing bytes", append(slices.Clone(valid), 0), 0, "trailing bytes after the 12 bytes"},
		{"over the limit", valid, 11, "exceed the 11-byte limit"},
		{"huge dims", encodeIDX(0x08, []uint32{1 << 31, 1 << 31}, nil), 0, "exceed the 1073741824-byte limit"},
		{"overflowing dims", encodeIDX(0x08, []uint32{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), math.MaxInt64, "exceed the"},
	}
	for _, c := range cases {
		for _, gz := range []bool{false, true} {
			file := c.file
			if gz {
				file = gzipBytes(t, c.file)
			}
			idx, err := ReadIDX(bytes.NewReader(file), c.maxSize)
			if err == nil {
				t.Errorf("%s gzip=%v: no error, got dims %v", c.name, gz, idx.Dims)
				continue
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "idx: ") {
				t.Errorf("%s gzip=%v: error %q, want it to contain %q", c.name, gz, err, c.want)
			}
		}
	}
}

// allocated returns the bytes allocated while running f.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestReadIDXBoundsMemory(t *testing.T) {
	cases := []struct {
		name    string
		file    []byte
		maxSize int64
		limit   uint64 // bytes the attempt may allocate
	}{
		// Rejected from the header: nothing sized by the dims is allocated.
		{"2^31 x 2^31", encodeIDX(0x08, []uint32{1 << 31, 1 << 31}, nil), 0, 256 << 10},
		{"2^31 x 2^31, max int64 limit", encodeIDX(0x08, []uint32{1 << 31, 1 << 31}, seq(100)), math.MaxInt64, 2 << 20},
		{"overflow", encodeIDX(0x08, []uint32{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), math.MaxInt64, 256 << 10},
		// Claims 900 MB within the limit but holds 100 bytes.
		{"claims more than it holds", encodeIDX(0x08, []uint32{900, 1000, 1000}, seq(100)), 0, 2 << 20},
	}
	for _, c := range cases {
		for _, gz := range []bool{false, true} {
			file := c.file
			if gz {
				file = gzipBytes(t, c.file)
			}
			var err error
			n := allocated(func() { _, err = ReadIDX(bytes.NewReader(file), c.maxSize) })
			if err == nil {
				t.Errorf("%s gzip=%v: no error", c.name, gz)
			}
			if n > c.limit {
				t.Errorf("%s gzip=%v: allocated %d bytes, want at most %d", c.name, gz, n, c.limit)
			}
		}
	}
}

func TestReadIDXGzipBomb(t *testing.T) {
	// 16 bytes of data announced, followed by 8 MiB of zeros that compress
	// to a few kilobytes: decoding must stop after the data plus one byte.
	plain := encodeIDX(0x08, []uint32{4, 4}, make([]byte, 8<<20+16))
	file := gzipBytes(t, plain)
	var err error
	n := allocated(func() { _, err = ReadIDX(bytes.NewReader(file), 1<<20) })
	if err == nil || !strings.Contains(err.Error(), "trailing bytes") {
		t.Errorf("error %v, want trailing bytes", err)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d bytes on an %d-byte bomb, want < 1 MiB", n, len(file))
	}
}

func TestReadIDXGzipChecksum(t *testing.T) {
	file := gzipBytes(t, encodeIDX(0x08, []uint32{3, 4}, seq(12)))
	file[len(file)-8] ^= 0xff // CRC-32 in the gzip trailer
	if _, err := ReadIDX(bytes.NewReader(file), 0); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt CRC: error %v, want a checksum error", err)
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(encodeIDX(0x08, []uint32{2, 3, 4}, seq(24)))
	f.Add(encodeIDX(0x08, []uint32{5}, seq(5)))
	f.Add(encodeIDX(0x08, []uint32{0, 28}, nil))
	f.Add(encodeIDX(0x08, []uint32{3, 4}, seq(11)))
	f.Add(gzipBytes(f, encodeIDX(0x08, []uint32{2, 2}, seq(4))))
	const maxBytes = 1 << 16
	f.Fuzz(func(t *testing.T, file []byte) {
		idx, err := ReadIDX(bytes.NewReader(file), maxBytes)
		if err != nil {
			if idx != nil {
				t.Fatalf("error %v with a non-nil result", err)
			}
			return
		}
		n := 1
		for _, d := range idx.Dims {
			n *= d
		}
		if n != len(idx.Data) || n > maxBytes {
			t.Fatalf("dims %v but %d bytes of data", idx.Dims, len(idx.Data))
		}
		// A plain file that decodes is exactly its re-encoding.
		if len(file) < 2 || file[0] != 0x1f || file[1] != 0x8b {
			dims := make([]uint32, len(idx.Dims))
			for i, d := range idx.Dims {
				dims[i] = uint32(d)
			}
			if got := encodeIDX(0x08, dims, idx.Data); !bytes.Equal(got, file) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", got, file)
			}
		}
	})
}
