//go:build amd64 && !noasm

package kernels

import "golang.org/x/sys/cpu"

// cpuPaths is what the CPU supports according to x/sys/cpu, computed here
// independently of the package's own detection.
func cpuPaths() []Path {
	ps := []Path{Generic}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ps = append(ps, AVX2)
	}
	if cpu.X86.HasAVX512F {
		ps = append(ps, AVX512)
	}
	return ps
}
