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

// forJob is one ParallelFor call's function and its count of parts handed
// to workers and not done. Jobs are pooled so that a call does not
// allocate.
type forJob struct {
	fn      func(lo, hi int)
	wg      sync.WaitGroup
	pending atomic.Int32
}

var forPool = sync.Pool{New: func() any { return new(forJob) }}

// handedOffFor counts the ParallelFor chunks queued for workers (for the
// tests).
var handedOffFor atomic.Int64

// ParallelFor splits [0, n) into at most Threads() contiguous chunks whose
// sizes are multiples of grain (but the last) and runs fn on each
// concurrently, returning when all are done. Small ranges run inline. The
// chunks but the last go to Sgemm's persistent workers (sgemm_threads.go),
// which poll for work between calls, so that a pass right after a GEMM
// starts on another core at once; the caller runs the last chunk, then
// waits for its chunks as Sgemm does (waitParts). fn may itself call
// ParallelFor or Sgemm.
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
	parts := (n + per - 1) / per
	startWorkers(parts - 1)
	j := forPool.Get().(*forJob)
	j.fn = fn
	j.wg.Add(parts - 1)
	j.pending.Store(int32(parts - 1))
	handedOffFor.Add(int64(parts - 1))
	for lo := 0; lo+per < n; lo += per {
		workQueue <- gemmTask{pf: j, m0: lo, m1: lo + per}
	}
	fn((parts-1)*per, n)
	waitParts(&j.pending, &j.wg)
	j.fn = nil
	forPool.Put(j)
}
