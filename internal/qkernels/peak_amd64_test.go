//go:build amd64 && !noasm

package qkernels

import "testing"

// BenchmarkVNNIPeak measures one core's VPDPBUSD peak on registers alone,
// the ceiling the GEMM is compared with in docs/BENCHMARKS.md.
func BenchmarkVNNIPeak(b *testing.B) {
	if !hasVNNI {
		b.Skip("no AVX-512 VNNI")
	}
	const iters = 1 << 16
	for i := 0; i < b.N; i++ {
		vnniPeak(iters)
	}
	b.ReportMetric(3072*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}
