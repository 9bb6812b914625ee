//go:build !amd64 || noasm

package lite

import (
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
)

// checkCPUPathsRan fails if the generic int8 path (the only one built
// here) did not run.
func checkCPUPathsRan(t *testing.T, what string, ran map[qkernels.Path]bool) {
	t.Helper()
	if !ran[qkernels.Generic] {
		t.Errorf("%s: the generic path did not run", what)
	}
}
