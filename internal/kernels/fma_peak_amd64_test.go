//go:build amd64 && !noasm

package kernels

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread (Linux's
// RUSAGE_THREAD), or 0 if the call fails.
func threadCPU() time.Duration {
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFMAPeak measures the core's float32 FMA peak with register-only
// loops of independent FMAs (no loads), the ceiling for Sgemm on one
// thread. GFLOP/s / 32 is the clock in GHz on a CPU with two 256-bit FMA
// pipes (AVX2), and with two 512-bit ones (AVX-512 on Intel) it is / 64.
// GFLOP/cpu-s is the same work over the thread's CPU time instead of the
// wall time: the peak per second of CPU, which a shared machine's load
// lowers less than the wall-time figure, to compare with CPU-time figures
// measured under the same load.
func BenchmarkFMAPeak(b *testing.B) {
	const iters = 1 << 16
	cases := []struct {
		name  string
		ok    bool
		f     func(int)
		flops float64 // per iteration
	}{
		{"avx2", hasAVX2FMA, fmaPeakAVX2, 12 * 8 * 2},
		{"avx512", hasAVX512F, fmaPeakAVX512, 24 * 16 * 2},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if !c.ok {
				b.Skipf("CPU lacks %s", c.name)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			for b.Loop() {
				c.f(iters)
			}
			cpu := threadCPU() - c0
			b.ReportMetric(iters*c.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu > 0 {
				b.ReportMetric(iters*c.flops*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
			}
		})
	}
}
