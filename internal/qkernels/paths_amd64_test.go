//go:build amd64 && !noasm

package qkernels

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// checkCPUPathsRan fails if the CPU has an instruction set whose path did
// not run.
func checkCPUPathsRan(t *testing.T, ran map[Path]bool) {
	if cpu.X86.HasAVX2 && !ran[AVX2] {
		t.Error("CPU has AVX2 but the AVX2 path did not run")
	}
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && !ran[VNNI] {
		t.Error("CPU has AVX-512 VNNI but the VNNI path did not run")
	}
}
