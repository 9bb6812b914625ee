package kernels

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/goqat/goqat/internal/workers"
)

// checkCover runs ParallelFor(n, grain) and fails unless every index is
// visited exactly once, in chunks of multiples of grain (but the last), at
// most Threads() of them.
func checkCover(t *testing.T, n, grain int) {
	t.Helper()
	hits := make([]int32, n)
	var calls atomic.Int32
	ParallelFor(n, grain, func(lo, hi int) {
		calls.Add(1)
		if lo%max(grain, 1) != 0 || lo >= hi {
			t.Errorf("n=%d grain=%d: chunk [%d, %d)", n, grain, lo, hi)
		}
		for i := lo; i < hi; i++ {
			atomic.AddInt32(&hits[i], 1)
		}
	})
	for i, h := range hits {
		if h != 1 {
			t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
		}
	}
	if c := int(calls.Load()); c > Threads() || n > 0 && c == 0 {
		t.Errorf("n=%d grain=%d threads=%d: %d chunks", n, grain, Threads(), c)
	}
}

func TestParallelForCovers(t *testing.T) {
	defer SetThreads(Threads())
	for _, th := range []int{1, 2, 3, 7} {
		SetThreads(th)
		for _, n := range []int{0, 1, 2, 5, 64, 1000, 4097} {
			for _, grain := range []int{0, 1, 3, 64, 5000} {
				checkCover(t, n, grain)
			}
		}
	}
}

// TestParallelForNested calls ParallelFor (and Sgemm) from inside its
// chunks, from several goroutines at once: it must neither deadlock nor
// lose work.
func TestParallelForNested(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(4)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				var total atomic.Int64
				ParallelFor(8, 1, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						ParallelFor(100, 1, func(lo, hi int) { total.Add(int64(hi - lo)) })
					}
					a := make([]float32, 64*64)
					c := make([]float32, 64*64)
					Sgemm(false, false, 64, 64, 64, 1, a, 64, a, 64, 0, c, 64)
				})
				if total.Load() != 800 {
					t.Errorf("nested ParallelFor covered %d of 800", total.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
}

// parSum is the work of TestParallelForNoAllocs, a function value made
// once.
var parSum = func(lo, hi int) {
	for i := lo; i < hi; i++ {
		parSink[i%2] += float64(i)
	}
}

// TestParallelForNoAllocs checks that ParallelFor hands its chunks to the
// persistent workers without allocating.
func TestParallelForNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	defer SetThreads(Threads())
	for _, th := range []int{2, 3} {
		SetThreads(th)
		before := workers.HandedOff()
		if a := testing.AllocsPerRun(50, func() { ParallelFor(64, 1, parSum) }); a != 0 {
			t.Errorf("%d threads: %v allocations per call", th, a)
		}
		if workers.HandedOff() == before {
			t.Errorf("%d threads: no chunk went to a worker", th)
		}
	}
}
