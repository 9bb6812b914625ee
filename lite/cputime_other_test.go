//go:build !linux

package lite

// threadCPU is 0 where the thread's CPU clock is not read: benchmarks
// then report wall-clock figures only.
func threadCPU() float64 { return 0 }

// ThreadCPU is threadCPU for the external test package.
var ThreadCPU = threadCPU
