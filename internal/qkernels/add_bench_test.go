package qkernels

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkAddRows times the rescaled int8 Add on a residual tensor of
// ResNet-50's first stage (56x56x256), in one call and in calls of one
// output row (256 values) as a fused Add runs it; ns/value per second of
// the thread's CPU time; also on 64 rows, which stay in the L2 cache.
func BenchmarkAddRows(b *testing.B) {
	const big, row = 56 * 56 * 256, 256
	p, err := NewAddParams(3, -5, 1<<30+12345, 1<<29+777, 33, 2, -128, 127)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{big, 256 * 64} {
		a, c, y := make([]int8, n), make([]int8, n), make([]int8, n)
		for i := range a {
			a[i], c[i] = int8(i*7), int8(i*13+5)
		}
		for _, seg := range []int{n, row, 24} {
			b.Run(fmt.Sprintf("n%d/seg%d", n, seg), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				for i := 0; i < b.N; i++ {
					for off := 0; off+seg <= n; off += seg {
						AddRows(y[off:off+seg], a[off:off+seg], c[off:off+seg], p)
					}
				}
				if cpu := threadCPU() - c0; cpu > 0 {
					b.ReportMetric(cpu*1e9/float64(b.N)/float64(n), "cpu-ns/value")
				}
			})
		}
	}
}
