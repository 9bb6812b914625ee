//go:build !linux

package qkernels

// threadCPU is 0 where the thread's CPU clock is not read: benchmarks
// then report wall-clock figures only.
func threadCPU() float64 { return 0 }
