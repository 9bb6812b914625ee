package workers

import "testing"

// BenchmarkForHandOff times For over two parts of about a microsecond each
// on 2 threads, against the same work inline: the difference is the cost of
// handing a part to another thread and waiting for it.
func BenchmarkForHandOff(b *testing.B) {
	work := func(part, lo, hi int) {
		for i := lo; i < hi; i++ {
			s := 0.0
			for k := range 2000 {
				s += float64(k)
			}
			forSink[i] = s
		}
	}
	b.Run("parallel", func(b *testing.B) {
		defer Set(N())
		Set(2)
		var r Runner
		for b.Loop() {
			r.For(2, 1, work)
		}
	})
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			work(0, 0, 2)
		}
	})
}
