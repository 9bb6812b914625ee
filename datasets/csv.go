package datasets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goqat/goqat/internal/fileio"
	"github.com/goqat/goqat/tensor"
)

// CSV reads a table from the CSV file at path: a header row, then one
// example per row. See ReadCSV.
func CSV(path, labelColumn string) (*Dataset, error) {
	f, _, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return ReadCSV(f, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), path, labelColumn)
}

// ReadCSV reads a table from r (named name; where names the source in
// errors): a header row naming the columns, then one example per row. The
// label column is labelColumn: a header name, or else a column index
// counting from 0; "" means the last column. Every other column is a
// numeric feature (a finite float), taken as it is, so X is (N,F).
//
// Labels: if every label is a whole number from 0 to 65535, label k is
// class k and the classes are "0".."K-1" (K one more than the largest);
// otherwise each distinct label string is a class and the classes are the
// strings sorted (Go string order). A row with the wrong number of fields,
// a feature that is not a number, or an empty label is an error naming the
// line. At most MaxValues feature values are read.
func ReadCSV(r io.Reader, name, where, labelColumn string) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("datasets: %s: empty file: want a header row and one row per example", where)
	}
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", where, err)
	}
	header = append([]string(nil), header...)
	if len(header) < 2 {
		return nil, fmt.Errorf("datasets: %s: the header has %d column(s): want features and a label", where, len(header))
	}
	lc, err := labelIndex(header, labelColumn)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", where, err)
	}
	nf := len(header) - 1
	var x []float32
	var labels []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("datasets: %s: line %d: %w", where, pe.StartLine, pe.Err)
			}
			return nil, fmt.Errorf("datasets: %s: %w", where, err)
		}
		line, _ := cr.FieldPos(0)
		if len(x)+nf > MaxValues {
			return nil, fmt.Errorf("datasets: %s: line %d: more than %d feature values", where, line, MaxValues)
		}
		for j, field := range rec {
			if j == lc {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("datasets: %s: line %d: column %q: %q is not a finite number", where, line, header[j], field)
			}
			x = append(x, float32(v))
		}
		l := strings.TrimSpace(rec[lc])
		if l == "" {
			return nil, fmt.Errorf("datasets: %s: line %d: empty label in column %q", where, line, header[lc])
		}
		labels = append(labels, l)
	}
	n := len(labels)
	if n == 0 {
		return nil, fmt.Errorf("datasets: %s: no rows after the header", where)
	}
	names, y := classesOf(labels)
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: tensor.Shape{n, nf}, Data: x},
		Y:          &tensor.Tensor{Shape: tensor.Shape{n}, Data: y},
		Classes:    len(names),
		ClassNames: names,
	}, nil
}

// labelIndex finds the label column: by header name, else as an index; ""
// is the last column.
func labelIndex(header []string, col string) (int, error) {
	if col == "" {
		return len(header) - 1, nil
	}
	for i, h := range header {
		if strings.TrimSpace(h) == col {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(col); err == nil {
		if i < 0 || i >= len(header) {
			return 0, fmt.Errorf("label column %d: the header has %d columns (0 to %d)", i, len(header), len(header)-1)
		}
		return i, nil
	}
	return 0, fmt.Errorf("no label column %q: the header names %s", col, strings.Join(header, ", "))
}

// maxIntegerClasses bounds the classes of whole-number labels.
const maxIntegerClasses = 1 << 16

// classesOf maps label strings to class indices: whole numbers 0..65535 are
// their own index; otherwise the distinct strings sorted.
func classesOf(labels []string) (names []string, y []float32) {
	y = make([]float32, len(labels))
	top, integer := -1, true
	for i, l := range labels {
		k, err := strconv.Atoi(l)
		if err != nil || k < 0 || k >= maxIntegerClasses {
			integer = false
			break
		}
		y[i] = float32(k)
		top = max(top, k)
	}
	if integer {
		return numberedNames(top + 1), y
	}
	index := map[string]int{}
	for _, l := range labels {
		index[l] = 0
	}
	for l := range index {
		names = append(names, l)
	}
	sort.Strings(names)
	for i, l := range names {
		index[l] = i
	}
	for i, l := range labels {
		y[i] = float32(index[l])
	}
	return names, y
}
