package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many goroutines kernels split work across (at least
// 1). Results never depend on it: work is split only along dimensions whose
// elements are computed independently, never along a reduction.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	threads.Store(int32(n))
}

// Threads returns the current thread count.
func Threads() int { return int(threads.Load()) }

// ParallelFor splits [0, n) into at most Threads() contiguous chunks whose
// sizes are multiples of grain (but the last) and runs fn on each
// concurrently, returning when all are done. Small ranges run inline.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	t := Threads()
	chunks := (n + grain - 1) / grain
	if t > chunks {
		t = chunks
	}
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	per := (chunks + t - 1) / t * grain
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		if hi == n {
			fn(lo, hi)
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}
