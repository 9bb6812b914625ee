package datasets

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/goqat/goqat/internal/fileio"
	"github.com/goqat/goqat/tensor"
)

// maxNPYHeader bounds the length of a .npy header dictionary: NumPy writes
// a few hundred bytes.
const maxNPYHeader = 1 << 16

// npyArray is a decoded NumPy array, converted to float32.
type npyArray struct {
	shape []int
	data  []float32
	dtype string // the descr, e.g. "<f4"
}

// npyItemSizes are the dtypes read, with their sizes in bytes.
var npyItemSizes = map[string]int64{
	"<f4": 4, "<f8": 8, "|u1": 1, "<u1": 1, "|i1": 1, "<i4": 4, "<i8": 8,
}

// readNPY decodes one .npy array of size bytes from r (where names it in
// errors) through codeberg.org/sbinet/npyio. Before npyio sees the data the
// header is bounded (at most maxNPYHeader bytes, ending in a newline) and
// its shape is checked against size, so a header that claims more data than
// the file holds allocates nothing. dtypes float32, float64, uint8, int8,
// int32 and int64 (little-endian, C order) are read.
func readNPY(r io.Reader, size int64, where string) (*npyArray, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("datasets: %s: truncated .npy header", where)
	}
	if !bytes.Equal(pre[:6], npy.Magic[:]) {
		return nil, fmt.Errorf("datasets: %s: not a .npy array (bad magic)", where)
	}
	var hlen int64
	prefix := 10
	switch pre[6] {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("datasets: %s: truncated .npy header", where)
		}
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, fmt.Errorf("datasets: %s: truncated .npy header", where)
		}
		hlen, prefix = int64(binary.LittleEndian.Uint32(l[:])), 12
	default:
		return nil, fmt.Errorf("datasets: %s: .npy version %d.%d is not supported", where, pre[6], pre[7])
	}
	if hlen > maxNPYHeader || hlen > size-int64(prefix) {
		return nil, fmt.Errorf("datasets: %s: .npy header of %d bytes is longer than the file or the %d-byte limit", where, hlen, maxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("datasets: %s: truncated .npy header", where)
	}
	if hlen == 0 || hdr[hlen-1] != '\n' || !bytes.Contains(hdr, []byte("}")) {
		return nil, fmt.Errorf("datasets: %s: malformed .npy header", where)
	}
	// npyio re-reads the preamble and header from memory.
	head := bytes.NewBuffer(nil)
	head.Write(pre[:8])
	if prefix == 10 {
		head.Write(pre[8:10])
	} else {
		_ = binary.Write(head, binary.LittleEndian, uint32(hlen))
	}
	head.Write(hdr)
	body := bufio.NewReaderSize(r, 1<<16)
	var nr *npy.Reader
	if err := guard(func() (err error) {
		nr, err = npy.NewReader(io.MultiReader(head, body))
		return err
	}); err != nil {
		return nil, fmt.Errorf("datasets: %s: .npy header: %w", where, err)
	}
	d := nr.Header.Descr
	dtype := strings.Trim(d.Type, `'"`)
	isz, ok := npyItemSizes[dtype]
	if !ok {
		return nil, fmt.Errorf("datasets: %s: dtype %s is not supported: want float32, float64, uint8, int8, int32 or int64, little-endian", where, dtype)
	}
	if d.Fortran {
		return nil, fmt.Errorf("datasets: %s: Fortran-order array: save it in C order (numpy.ascontiguousarray)", where)
	}
	count := int64(1)
	for _, v := range d.Shape {
		if v < 0 || (v > 0 && count > (MaxValues+1)/int64(v)) {
			return nil, fmt.Errorf("datasets: %s: shape %v is more than %d values", where, d.Shape, MaxValues)
		}
		count *= int64(v)
	}
	if count > MaxValues {
		return nil, fmt.Errorf("datasets: %s: shape %v is more than %d values", where, d.Shape, MaxValues)
	}
	if want := int64(prefix) + hlen + count*isz; want != size {
		return nil, fmt.Errorf("datasets: %s: shape %v of %s needs %d bytes but the array holds %d", where, d.Shape, dtype, want, size)
	}
	out := &npyArray{shape: append([]int(nil), d.Shape...), data: make([]float32, count), dtype: dtype}
	if count == 0 {
		return out, nil
	}
	err := guard(func() error {
		switch dtype {
		case "<f4":
			return nr.Read(&out.data)
		case "<f8":
			return readConvert[float64](nr, out.data)
		case "|u1", "<u1":
			return readConvert[uint8](nr, out.data)
		case "|i1":
			return readConvert[int8](nr, out.data)
		case "<i4":
			return readConvert[int32](nr, out.data)
		default:
			return readConvert[int64](nr, out.data)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", where, err)
	}
	return out, nil
}

// readConvert reads len(dst) values of type T and converts them to float32.
func readConvert[T float64 | uint8 | int8 | int32 | int64](nr *npy.Reader, dst []float32) error {
	buf := make([]T, len(dst))
	if err := nr.Read(&buf); err != nil {
		return err
	}
	for i, v := range buf {
		dst[i] = float32(v)
	}
	return nil
}

// guard runs f, turning a panic inside the NumPy library into an error: a
// malformed file must not crash the program.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed array: %v", r)
		}
	}()
	return f()
}

// NumPy reads arrays saved by NumPy: a .npz archive with arrays x and y
// (or x_train, y_train and, optionally, x_test, y_test as Keras's
// mnist.npz), or a pair of .npy files x.npy and y.npy given as their folder
// or as the path of x.npy. test is nil if there are no test arrays.
//
// x is (N,H,W,C) or (N,H,W) images (C = 1), or (N,F) feature vectors; uint8
// x is scaled by 1/255 (pixels), every other dtype is taken as it is. y is
// (N) or (N,1) whole numbers from 0 to 65535, class k named "k"; the
// classes run to the largest label of either split. Mismatched lengths are
// an error.
func NumPy(path string) (train, test *Dataset, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	var arrays map[string]*npyArray
	var name string
	switch {
	case st.IsDir():
		name = filepath.Base(filepath.Clean(path))
		arrays, err = readNPYPair(filepath.Join(path, "x.npy"), filepath.Join(path, "y.npy"))
	case strings.EqualFold(filepath.Ext(path), ".npz"):
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		arrays, err = readNPZ(path)
	default:
		name = filepath.Base(filepath.Dir(path))
		dir, base := filepath.Split(path)
		yb := "y" + strings.TrimPrefix(strings.TrimPrefix(base, "x"), "X")
		if !strings.HasPrefix(strings.ToLower(base), "x") {
			return nil, nil, fmt.Errorf("datasets: %s: a .npy of examples must be named x*.npy, with its labels in y*.npy beside it", path)
		}
		arrays, err = readNPYPair(path, filepath.Join(dir, yb))
	}
	if err != nil {
		return nil, nil, err
	}
	return numpySets(name, path, arrays)
}

// readNPYPair reads the files x and y into arrays "x" and "y".
func readNPYPair(x, y string) (map[string]*npyArray, error) {
	out := map[string]*npyArray{}
	for key, p := range map[string]string{"x": x, "y": y} {
		f, size, err := fileio.OpenRegular(p)
		if err != nil {
			return nil, fmt.Errorf("datasets: %w", err)
		}
		a, err := readNPY(f, size, p)
		f.Close()
		if err != nil {
			return nil, err
		}
		out[key] = a
	}
	return out, nil
}

// npzKeys are the array names read from a .npz, lower-cased, without
// ".npy".
var npzKeys = map[string]bool{"x": true, "y": true, "x_train": true, "y_train": true, "x_test": true, "y_test": true}

// readNPZ reads the arrays of npzKeys found in the archive at path.
func readNPZ(path string) (map[string]*npyArray, error) {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: not a .npz archive: %w", path, err)
	}
	out := map[string]*npyArray{}
	for _, zf := range zr.File {
		key := strings.ToLower(strings.TrimSuffix(zf.Name, ".npy"))
		if !npzKeys[key] {
			continue
		}
		if out[key] != nil {
			return nil, fmt.Errorf("datasets: %s: two arrays named %s", path, key)
		}
		if zf.UncompressedSize64 > math.MaxInt32*8 {
			return nil, fmt.Errorf("datasets: %s: array %s of %d bytes is too large", path, zf.Name, zf.UncompressedSize64)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %s: %w", path, zf.Name, err)
		}
		a, err := readNPY(rc, int64(zf.UncompressedSize64), path+": "+zf.Name)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[key] = a
	}
	return out, nil
}

// numpySets builds the train and (optional) test sets from the arrays.
func numpySets(name, path string, a map[string]*npyArray) (train, test *Dataset, err error) {
	xk, yk := "x", "y"
	if a["x"] == nil && a["x_train"] != nil {
		xk, yk = "x_train", "y_train"
	}
	if a[xk] == nil || a[yk] == nil {
		return nil, nil, fmt.Errorf("datasets: %s: want arrays x and y (or x_train and y_train)", path)
	}
	hasTest := a["x_test"] != nil || a["y_test"] != nil
	if hasTest && (a["x_test"] == nil || a["y_test"] == nil) {
		return nil, nil, fmt.Errorf("datasets: %s: x_test and y_test come together", path)
	}
	top := -1
	tx, ty, err := numpyXY(path, xk, a[xk], a[yk], &top)
	if err != nil {
		return nil, nil, err
	}
	var vx, vy *tensor.Tensor
	if hasTest {
		if vx, vy, err = numpyXY(path, "x_test", a["x_test"], a["y_test"], &top); err != nil {
			return nil, nil, err
		}
		if !vx.Shape[1:].Equal(tx.Shape[1:]) {
			return nil, nil, fmt.Errorf("datasets: %s: x_test examples are %v but training examples are %v", path, vx.Shape[1:], tx.Shape[1:])
		}
	}
	names := numberedNames(top + 1)
	mk := func(suffix string, x, y *tensor.Tensor) *Dataset {
		return &Dataset{Name: name + suffix, X: x, Y: y, Classes: len(names), ClassNames: append([]string(nil), names...)}
	}
	if !hasTest {
		return mk("", tx, ty), nil, nil
	}
	return mk("-train", tx, ty), mk("-test", vx, vy), nil
}

// numpyXY checks one split's x and y and turns them into tensors; top
// tracks the largest label.
func numpyXY(path, xk string, x, y *npyArray, top *int) (*tensor.Tensor, *tensor.Tensor, error) {
	if len(x.shape) < 2 || len(x.shape) > 4 {
		return nil, nil, fmt.Errorf("datasets: %s: %s has shape %v: want (N,H,W,C), (N,H,W) or (N,F)", path, xk, x.shape)
	}
	if len(y.shape) != 1 && !(len(y.shape) == 2 && y.shape[1] == 1) {
		return nil, nil, fmt.Errorf("datasets: %s: labels have shape %v: want (N) or (N,1)", path, y.shape)
	}
	n := x.shape[0]
	if y.shape[0] != n {
		return nil, nil, fmt.Errorf("datasets: %s: %s has %d examples but its labels %d", path, xk, n, y.shape[0])
	}
	shape := tensor.Shape(append([]int(nil), x.shape...))
	if len(shape) == 3 {
		shape = append(shape, 1)
	}
	if x.dtype == "|u1" || x.dtype == "<u1" {
		for i, v := range x.data {
			x.data[i] = v / 255
		}
	}
	for i, v := range x.data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("datasets: %s: %s value %d is %v", path, xk, i, v)
		}
	}
	for i, v := range y.data {
		if v != float32(int(v)) || v < 0 || v >= maxIntegerClasses {
			return nil, nil, fmt.Errorf("datasets: %s: label %d is %v: want a whole number from 0 to %d", path, i, v, maxIntegerClasses-1)
		}
		*top = max(*top, int(v))
	}
	if n == 0 {
		return nil, nil, errors.New("datasets: " + path + ": no examples")
	}
	return &tensor.Tensor{Shape: shape, Data: x.data}, &tensor.Tensor{Shape: tensor.Shape{n}, Data: y.data}, nil
}
