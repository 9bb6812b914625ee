//go:build amd64 && !noasm

package qkernels

import (
	"runtime"
	"testing"
)

// BenchmarkVNNIPeak measures one core's VPDPBUSD peak on registers alone,
// the ceiling the GEMM is compared with in docs/BENCHMARKS.md. GOPS is per
// second of wall time; cpuGOPS per second of the thread's CPU time, the
// steadier figure on a machine shared with other work.
func BenchmarkVNNIPeak(b *testing.B) {
	if !hasVNNI {
		b.Skip("no AVX-512 VNNI")
	}
	const iters = 1 << 16
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	for i := 0; i < b.N; i++ {
		vnniPeak(iters)
	}
	cpu := threadCPU() - c0
	b.ReportMetric(3072*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
	if cpu > 0 {
		b.ReportMetric(3072*iters*float64(b.N)/cpu/1e9, "cpuGOPS")
	}
}
