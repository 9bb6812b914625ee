package kernels

import (
	"sync"

	"github.com/goqat/goqat/internal/workers"
)

// SetThreads sets how many goroutines kernels split work across (at least
// 1), the process-wide count of internal/workers (the public setting is
// package threads). Results never depend on it: work is split only along
// dimensions whose elements are computed independently, never along a
// reduction.
func SetThreads(n int) { workers.Set(max(1, n)) }

// Threads returns the current thread count (internal/workers.N).
func Threads() int { return workers.N() }

// forJob is one ParallelFor call: its function, the range and grain, and
// its count of parts handed to workers. Jobs are pooled so that a call
// does not allocate.
type forJob struct {
	fn       func(lo, hi int)
	n, grain int
	parts    workers.Group
}

// Part runs fn on the grains [lo, hi) of the range.
func (j *forJob) Part(_, lo, hi int) { j.fn(lo*j.grain, min(hi*j.grain, j.n)) }

var forPool = sync.Pool{New: func() any { return new(forJob) }}

// ParallelFor splits [0, n) into at most Threads() contiguous chunks whose
// sizes are multiples of grain (but the last) and runs fn on each
// concurrently, returning when all are done. Small ranges run inline. The
// chunks but the first go to the persistent workers of internal/workers,
// shared with Sgemm and the int8 kernels, which poll for work between
// calls, so that a pass right after a GEMM starts on another core at once;
// the caller runs the first chunk, then waits for the others. fn may
// itself call ParallelFor or Sgemm.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	if workers.Parts(0, chunks, 1) <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	j := forPool.Get().(*forJob)
	j.fn, j.n, j.grain = fn, n, grain
	workers.For(0, chunks, 1, j, &j.parts)
	j.fn = nil
	forPool.Put(j)
}
