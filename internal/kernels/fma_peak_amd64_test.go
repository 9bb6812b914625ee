//go:build amd64 && !noasm

package kernels

import "testing"

// BenchmarkFMAPeak measures the core's float32 FMA peak with register-only
// loops of independent FMAs (no loads), the ceiling for Sgemm on one
// thread. GFLOP/s / 32 is the clock in GHz on a CPU with two 256-bit FMA
// pipes (AVX2), and with two 512-bit ones (AVX-512 on Intel) it is / 64.
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
			for b.Loop() {
				c.f(iters)
			}
			b.ReportMetric(iters*c.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
