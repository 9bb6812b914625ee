package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// IDX is a decoded IDX file (the format of MNIST and Fashion-MNIST): its
// dimensions, outermost first, and its unsigned-byte data in row-major order,
// len(Data) equal to the product of Dims.
type IDX struct {
	Dims []int
	Data []byte
}

// DefaultMaxIDXBytes is the data size bound ReadIDX uses when given a
// maxBytes of zero or less: 1 GiB.
const DefaultMaxIDXBytes = 1 << 30

// IDX header layout: two zero bytes, a type code, the number of dimensions,
// then one big-endian uint32 per dimension.
const (
	idxTypeUint8  = 0x08
	idxMaxHeader  = 4 + 4*255 // magic and at most 255 dimensions
	idxFirstChunk = 1 << 20   // first data allocation; grows by doubling
)

// idxTypeNames names the IDX type codes, to reject the non-byte ones clearly.
var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDX decodes an IDX file of unsigned bytes (magic 0x00000803 for
// images (N,rows,cols), 0x00000801 for labels (N)) from r, which may be
// gzipped (detected from the gzip magic) or plain.
//
// The data size (the product of the dimensions), and each dimension, must
// not exceed maxBytes (DefaultMaxIDXBytes if maxBytes <= 0); this is checked
// without overflow before anything is allocated. The data buffer then grows
// by doubling from 1 MiB with the bytes actually read, so a file that claims
// more than it holds costs at most about twice what it holds. At most the
// header, the data and one more byte are decompressed, so a gzip bomb
// cannot exhaust memory. The data must be exactly as long as the
// dimensions say: a short file and trailing bytes are both errors, as are a
// bad magic number and type codes other than unsigned byte (0x08).
func ReadIDX(r io.Reader, maxBytes int64) (*IDX, error) {
	return readIDXFirst(r, maxBytes, 0)
}

// readIDXFirst is ReadIDX reading only the first `first` records (the
// leading dimension) when 0 < first < N: the rest of the file is neither
// decompressed nor checked. first <= 0 reads the whole file.
func readIDXFirst(r io.Reader, maxBytes int64, first int) (*IDX, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxIDXBytes
	}
	if maxBytes > math.MaxInt {
		maxBytes = math.MaxInt
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer gz.Close()
		// The limit is tightened to the data size once the header is read.
		lr := &io.LimitedReader{R: gz, N: idxMaxHeader}
		return readIDX(lr, maxBytes, first, func(n int) { lr.N = int64(n) + 1 })
	}
	return readIDX(br, maxBytes, first, func(int) {})
}

// readIDX reads the header, the data and checks for trailing bytes; with
// 0 < first < N only the first records and no check past them. setLimit is
// told the size of the data to read once it is known.
func readIDX(r io.Reader, maxBytes int64, first int, setLimit func(n int)) (*IDX, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, readErr("header", err)
	}
	magic := binary.BigEndian.Uint32(h[:])
	if h[0] != 0 || h[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic 0x%08x: not an IDX file (want 0x00000803 images or 0x00000801 labels)", magic)
	}
	name, known := idxTypeNames[h[2]]
	if !known {
		return nil, fmt.Errorf("idx: bad magic 0x%08x: unknown data type code 0x%02x", magic, h[2])
	}
	if h[2] != idxTypeUint8 {
		return nil, fmt.Errorf("idx: data type 0x%02x (%s) is not supported: only unsigned byte (0x08)", h[2], name)
	}
	nd := int(h[3])
	if nd == 0 {
		return nil, fmt.Errorf("idx: bad magic 0x%08x: zero dimensions", magic)
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, readErr("dimensions", err)
	}
	udims := make([]uint32, nd)
	for i := range udims {
		udims[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	// Bound the size before allocating; division avoids overflow. A single
	// dimension over the limit is rejected even if another is zero, so that
	// every dimension fits an int.
	size := int64(1)
	for _, d := range udims {
		if int64(d) > maxBytes || (d != 0 && size > maxBytes/int64(d)) {
			return nil, fmt.Errorf("idx: dimensions %v exceed the %d-byte limit", udims, maxBytes)
		}
		size *= int64(d)
	}
	dims := make([]int, nd)
	for i, d := range udims {
		dims[i] = int(d)
	}
	n := int(size)
	if first > 0 && first < dims[0] {
		n = n / dims[0] * first
		dims[0] = first
		setLimit(n)
		data, err := readData(r, n)
		if err != nil {
			return nil, err
		}
		return &IDX{Dims: dims, Data: data}, nil
	}
	setLimit(n)
	data, err := readData(r, n)
	if err != nil {
		return nil, err
	}
	var one [1]byte
	k, err := io.ReadFull(r, one[:])
	if k > 0 {
		return nil, fmt.Errorf("idx: trailing bytes after the %d bytes of data that dimensions %v describe", n, dims)
	}
	if err != io.EOF {
		return nil, fmt.Errorf("idx: after the data: %w", err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// readData reads exactly n bytes, growing the buffer by doubling from
// idxFirstChunk so that memory follows the bytes actually present.
func readData(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, idxFirstChunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			newCap := n
			if cap(buf) <= n/2 {
				newCap = 2 * cap(buf)
			}
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = nb
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if len(buf) < n {
				return nil, fmt.Errorf("idx: truncated: want %d bytes of data, got %d", n, len(buf))
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("idx: reading data: %w", err)
		}
	}
	return buf, nil
}

// readErr words an error met while reading the header or the dimensions.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("idx: truncated %s", what)
	}
	return fmt.Errorf("idx: reading %s: %w", what, err)
}
