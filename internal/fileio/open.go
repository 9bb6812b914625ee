// Package fileio opens the files goqat's loaders read.
package fileio

import (
	"fmt"
	"os"
)

// OpenRegular opens path for reading if it is a regular file, and returns
// the file and its size. Anything else (a FIFO, a device, a folder) is an
// error before the open: opening a FIFO for reading blocks until a writer
// comes, so a loader given one would hang. The file is checked again after
// the open, so that a path swapped in between is refused too.
func OpenRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st2, err := f.Stat()
	if err != nil || !st2.Mode().IsRegular() || !os.SameFile(st, st2) {
		f.Close()
		return nil, 0, fmt.Errorf("%s: changed while being opened", path)
	}
	return f, st2.Size(), nil
}
