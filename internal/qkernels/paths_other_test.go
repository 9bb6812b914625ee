//go:build !amd64 || noasm

package qkernels

import "testing"

func checkCPUPathsRan(t *testing.T, ran map[Path]bool) {
	if !ran[Generic] {
		t.Error("the generic path did not run")
	}
}
