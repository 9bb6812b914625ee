package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// distinctPaths refuses to write out over in: no command overwrites its own
// input (the same path, or another name of the same file).
func distinctPaths(in, out string) error {
	a, errA := filepath.Abs(in)
	b, errB := filepath.Abs(out)
	if errA == nil && errB == nil && a == b {
		return fmt.Errorf("--out %s is the input file; write to another file", out)
	}
	si, err1 := os.Stat(in)
	so, err2 := os.Stat(out)
	if err1 == nil && err2 == nil && os.SameFile(si, so) {
		return fmt.Errorf("--out %s is the input file %s; write to another file", out, in)
	}
	return nil
}
