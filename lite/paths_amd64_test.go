//go:build amd64 && !noasm

package lite

import (
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
	"golang.org/x/sys/cpu"
)

// checkCPUPathsRan fails if the CPU has an instruction set whose int8 path
// did not run.
func checkCPUPathsRan(t *testing.T, what string, ran map[qkernels.Path]bool) {
	t.Helper()
	if !ran[qkernels.Generic] {
		t.Errorf("%s: the generic path did not run", what)
	}
	if cpu.X86.HasAVX2 && !ran[qkernels.AVX2] {
		t.Errorf("%s: CPU has AVX2 but the AVX2 path did not run", what)
	}
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && !ran[qkernels.VNNI] {
		t.Errorf("%s: CPU has AVX-512 VNNI but the VNNI path did not run", what)
	}
}
