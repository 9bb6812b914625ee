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
	x, nf, labels, err := readTable(r, where, labelColumn, true)
	if err != nil {
		return nil, err
	}
	names, y := classesOf(labels)
	n := len(labels)
	return &Dataset{
		Name:       name,
		X:          &tensor.Tensor{Shape: tensor.Shape{n, nf}, Data: x},
		Y:          &tensor.Tensor{Shape: tensor.Shape{n}, Data: y},
		Classes:    len(names),
		ClassNames: names,
	}, nil
}

// CSVFeatures reads the feature vectors of a CSV table at path, as ReadCSV
// but for prediction: with labelColumn "" every column is a feature and
// labels is nil; otherwise that column is left out and returned as labels.
//
//	x (N,F)
func CSVFeatures(path, labelColumn string) (x *tensor.Tensor, labels []string, err error) {
	f, _, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	data, nf, labels, err := readTable(f, path, labelColumn, labelColumn != "")
	if err != nil {
		return nil, nil, err
	}
	return &tensor.Tensor{Shape: tensor.Shape{len(data) / nf, nf}, Data: data}, labels, nil
}

// readTable reads the header and rows of a CSV table: the features, row
// after row, nf of them per row, and (if hasLabel) the label column's
// strings.
func readTable(r io.Reader, where, labelColumn string, hasLabel bool) (x []float32, nf int, labels []string, err error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, 0, nil, fmt.Errorf("datasets: %s: empty file: want a header row and one row per example", where)
	}
	if err != nil {
		return nil, 0, nil, csvErr(where, err)
	}
	header = append([]string(nil), header...)
	lc := -1
	nf = len(header)
	if hasLabel {
		if len(header) < 2 {
			return nil, 0, nil, fmt.Errorf("datasets: %s: the header has %d column(s): want features and a label", where, len(header))
		}
		if lc, err = labelIndex(header, labelColumn); err != nil {
			return nil, 0, nil, fmt.Errorf("datasets: %s: %w", where, err)
		}
		nf--
	}
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, nil, csvErr(where, err)
		}
		line, _ := cr.FieldPos(0)
		if len(x)+nf > MaxValues {
			return nil, 0, nil, fmt.Errorf("datasets: %s: line %d: more than %d feature values", where, line, MaxValues)
		}
		for j, field := range rec {
			if j == lc {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, 0, nil, fmt.Errorf("datasets: %s: line %d: column %q: %q is not a finite number", where, line, header[j], field)
			}
			x = append(x, float32(v))
		}
		if lc >= 0 {
			l := strings.TrimSpace(rec[lc])
			if l == "" {
				return nil, 0, nil, fmt.Errorf("datasets: %s: line %d: empty label in column %q", where, line, header[lc])
			}
			labels = append(labels, l)
		}
		rows++
	}
	if rows == 0 {
		return nil, 0, nil, fmt.Errorf("datasets: %s: no rows after the header", where)
	}
	return x, nf, labels, nil
}

// csvErr words a CSV reader's error, naming the line of a parse error.
func csvErr(where string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("datasets: %s: line %d: %w", where, pe.StartLine, pe.Err)
	}
	return fmt.Errorf("datasets: %s: %w", where, err)
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
