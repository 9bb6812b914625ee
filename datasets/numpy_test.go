package datasets

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// npyBytes encodes a .npy version 1.0 file as NumPy writes it: the magic,
// the header dictionary padded with spaces to a multiple of 64 bytes and
// ending in a newline, then the raw little-endian data.
func npyBytes(dtype string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, v := range shape {
		dims[i] = fmt.Sprint(v)
	}
	sh := "(" + strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	sh += ")"
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtype, sh)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

// le encodes values little-endian.
func le(v any) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// writeNPZ writes a .npz (a zip of .npy files, deflated) at path.
func writeNPZ(t testing.TB, path string, arrays map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range arrays {
			if !yield(k) {
				return
			}
		}
	}) {
		w, err := zw.Create(name + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(arrays[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNumPy reads .npz archives (uint8 images with a test split, float32
// tables) and a pair of .npy files, checking every value.
func TestNumPy(t *testing.T) {
	dir := t.TempDir()
	img := []uint8{0, 51, 102, 255, 10, 20, 30, 40}
	writeNPZ(t, filepath.Join(dir, "mnist.npz"), map[string][]byte{
		"x_train": npyBytes("|u1", []int{2, 2, 2}, img),
		"y_train": npyBytes("<i8", []int{2}, le([]int64{0, 2})),
		"x_test":  npyBytes("|u1", []int{1, 2, 2}, img[:4]),
		"y_test":  npyBytes("<i8", []int{1}, le([]int64{1})),
	})
	train, test, err := NumPy(filepath.Join(dir, "mnist.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if !train.X.Shape.Equal([]int{2, 2, 2, 1}) || !test.X.Shape.Equal([]int{1, 2, 2, 1}) || train.Classes != 3 || test.Classes != 3 {
		t.Fatalf("shapes %v %v, classes %d", train.X.Shape, test.X.Shape, train.Classes)
	}
	for i, v := range img {
		if train.X.Data[i] != float32(v)/255 {
			t.Fatalf("pixel %d = %v, want %v", i, train.X.Data[i], float32(v)/255)
		}
	}
	if !slices.Equal(train.Y.Data, []float32{0, 2}) || test.Y.Data[0] != 1 {
		t.Errorf("labels %v %v", train.Y.Data, test.Y.Data)
	}

	feats := []float32{1.5, -2, 3, 4, 5, 6}
	writeNPZ(t, filepath.Join(dir, "table.npz"), map[string][]byte{
		"x": npyBytes("<f4", []int{3, 2}, le(feats)),
		"y": npyBytes("<i4", []int{3, 1}, le([]int32{1, 0, 1})),
	})
	tab, none, err := NumPy(filepath.Join(dir, "table.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if none != nil || !tab.X.Shape.Equal([]int{3, 2}) || !slices.Equal(tab.X.Data, feats) || !slices.Equal(tab.Y.Data, []float32{1, 0, 1}) {
		t.Errorf("table: %v %v %v", tab.X.Shape, tab.X.Data, tab.Y.Data)
	}

	pair := filepath.Join(dir, "pair")
	if err := os.MkdirAll(pair, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pair, "x.npy"), npyBytes("<f8", []int{2, 1, 1, 3}, le([]float64{0.5, 0.25, 1, 0, 0, 0.125})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pair, "y.npy"), npyBytes("|u1", []int{2}, []byte{1, 1}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pair, filepath.Join(pair, "x.npy")} {
		d, _, err := NumPy(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !d.X.Shape.Equal([]int{2, 1, 1, 3}) || d.X.Data[5] != 0.125 || d.Classes != 2 {
			t.Errorf("%s: %v %v %d classes", p, d.X.Shape, d.X.Data, d.Classes)
		}
	}
	if k, err := DetectKind(pair); k != KindNumPy || err != nil {
		t.Errorf("DetectKind(%s) = %q, %v", pair, k, err)
	}
}

// TestNumPyErrors checks that malformed arrays give errors, never panics
// or huge allocations.
func TestNumPyErrors(t *testing.T) {
	good := npyBytes("<f4", []int{2, 2}, le([]float32{1, 2, 3, 4}))
	y2 := npyBytes("<i8", []int{2}, le([]int64{0, 1}))
	huge := npyBytes("<f4", []int{1 << 20, 1 << 20}, nil)
	lie := npyBytes("<f4", []int{1000, 2}, le([]float32{1, 2, 3, 4}))
	badHeader := append([]byte("\x93NUMPY\x01\x00\x10\x00"), []byte("{'descr': 'x'}  ")...)
	long := []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff")
	for _, c := range []struct {
		name string
		x, y []byte
		want string
	}{
		{"mismatched lengths", good, npyBytes("<i8", []int{3}, le([]int64{0, 1, 0})), "2 examples but its labels 3"},
		{"too many values", huge, y2, "more than"},
		{"short data", lie, y2, "needs 8128 bytes"},
		{"trailing data", append(append([]byte{}, good...), 0), y2, "needs"},
		{"bad magic", []byte("PK\x03\x04 not numpy"), y2, "bad magic"},
		{"no newline", badHeader, y2, "malformed .npy header"},
		{"header too long", long, y2, "header of"},
		{"truncated", good[:5], y2, "truncated"},
		{"complex", npyBytes("<c8", []int{1, 1}, make([]byte, 8)), y2, "dtype <c8"},
		{"big-endian", npyBytes(">f4", []int{1, 1}, make([]byte, 4)), y2, "dtype >f4"},
		{"labels not whole", good, npyBytes("<f4", []int{2}, le([]float32{0, 0.5})), "label 1 is 0.5"},
		{"negative label", good, npyBytes("<i8", []int{2}, le([]int64{0, -1})), "label 1 is -1"},
		{"x of rank 1", npyBytes("<f4", []int{2}, le([]float32{1, 2})), y2, "want (N,H,W,C)"},
		{"NaN", npyBytes("<f4", []int{2, 1}, le([]float32{1, float32(math.NaN())})), y2, "NaN"},
		{"garbled shape", npyBytes("<f4", nil, nil)[:10+40], y2, "header"},
	} {
		path := filepath.Join(t.TempDir(), "a.npz")
		writeNPZ(t, path, map[string][]byte{"x": c.x, "y": c.y})
		_, _, err := NumPy(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line with %q", c.name, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "only.npz")
	writeNPZ(t, path, map[string][]byte{"x": good})
	if _, _, err := NumPy(path); err == nil || !strings.Contains(err.Error(), "want arrays x and y") {
		t.Errorf("no y: %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "a.npz")
	if err := os.WriteFile(notZip, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NumPy(notZip); err == nil || !strings.Contains(err.Error(), "not a .npz") {
		t.Errorf("not a zip: %v", err)
	}
}

// FuzzReadNPY checks that no input makes readNPY panic and that an accepted
// array's shape matches its data.
func FuzzReadNPY(f *testing.F) {
	f.Add(npyBytes("<f4", []int{2, 2}, le([]float32{1, 2, 3, 4})))
	f.Add(npyBytes("|u1", []int{3}, []byte{1, 2, 3}))
	f.Add(npyBytes("<i8", []int{1, 1}, le([]int64{7})))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := readNPY(bytes.NewReader(data), int64(len(data)), "fuzz.npy")
		if err != nil {
			return
		}
		n := 1
		for _, v := range a.shape {
			n *= v
		}
		if n != len(a.data) {
			t.Fatalf("shape %v but %d values", a.shape, len(a.data))
		}
	})
}
