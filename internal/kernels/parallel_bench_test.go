package kernels

import "testing"

// parSink keeps the benchmark's work from being optimized away.
var parSink [2]float64

// BenchmarkParallelForHandOff times ParallelFor over two parts of about a
// microsecond each on 2 threads, against the same work inline: the
// difference is the cost of handing a part to another thread and waiting.
func BenchmarkParallelForHandOff(b *testing.B) {
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := 0.0
			for k := 0; k < 2000; k++ {
				s += float64(k)
			}
			parSink[i] = s
		}
	}
	b.Run("parallel", func(b *testing.B) {
		defer SetThreads(Threads())
		SetThreads(2)
		for b.Loop() {
			ParallelFor(2, 1, work)
		}
	})
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			work(0, 2)
		}
	})
}
