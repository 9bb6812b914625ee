package qkernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goqat/goqat/internal/kernels"
)

// Work is split across persistent worker goroutines, so that a product
// neither spawns goroutines nor allocates. An int8 layer at batch 1 takes
// tens of microseconds, about what waking a parked thread costs here, so an
// idle worker polls for a while before it parks, and the caller polls for
// its parts to finish.

const workerSpin = 200 * time.Microsecond

// part is one slice [lo, hi) of a job's units.
type part struct {
	fn     func(part, lo, hi int)
	idx    int
	lo, hi int
	done   *atomic.Int32
}

var (
	poolMu    sync.Mutex
	poolQueue chan part
	poolSize  int
	// handedOff counts parts run by workers, for tests.
	handedOff atomic.Int64
)

func ensureWorkers(n int) {
	poolMu.Lock()
	defer poolMu.Unlock()
	if poolQueue == nil {
		poolQueue = make(chan part, 64)
	}
	for ; poolSize < n; poolSize++ {
		go worker()
	}
}

func worker() {
	for {
		var p part
		select {
		case p = <-poolQueue:
		default:
			p = idleWait()
		}
		p.fn(p.idx, p.lo, p.hi)
		handedOff.Add(1)
		p.done.Add(-1)
	}
}

// idleWait polls the queue for workerSpin, yielding between polls (the
// clock read every 64 polls), then blocks on it.
func idleWait() part {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case p := <-poolQueue:
			return p
		default:
		}
		if i%64 == 0 && time.Since(start) > workerSpin {
			return <-poolQueue
		}
		runtime.Gosched()
	}
}

// threadsOr returns t if positive, else kernels.Threads().
func threadsOr(t int) int {
	if t > 0 {
		return t
	}
	return kernels.Threads()
}

// parallelFor runs fn over [0, n) in at most t contiguous parts (t <= 0:
// kernels.Threads()) of at least grain units each, numbered from 0; done
// is the caller's counter (kept in a long-lived struct so that no call
// allocates).
func parallelFor(t, n, grain int, fn func(part, lo, hi int), done *atomic.Int32) {
	t = threadsOr(t)
	if grain < 1 {
		grain = 1
	}
	t = min(t, n/grain)
	if t <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	ensureWorkers(t - 1)
	per := (n + t - 1) / t
	done.Store(int32(t - 1))
	lo := per
	for i := 1; i < t; i++ {
		hi := min(lo+per, n)
		poolQueue <- part{fn: fn, idx: i, lo: lo, hi: hi, done: done}
		lo = hi
	}
	fn(0, 0, per)
	// The other parts are about as long as ours: spin briefly before
	// yielding the processor.
	for i := 0; done.Load() > 0; i++ {
		if i >= 256 {
			runtime.Gosched()
		}
	}
}

// Runner splits loops across the package's worker goroutines without
// allocating (keep one per user, e.g. one per op of an interpreter). It is
// not safe for concurrent For calls.
type Runner struct {
	// Threads caps the parts of For; 0 means kernels.Threads(). Work that
	// already runs on a worker (one share of a batch) sets it to 1, so that
	// it never waits for workers that are busy with the other shares.
	Threads int
	done    atomic.Int32
}

// For runs fn over [0, n) in at most Parts(n, grain) contiguous parts of at
// least grain units, numbered from 0, and returns when all are done. Give
// each part its own scratch (indexed by part) and results that do not
// depend on the split.
func (r *Runner) For(n, grain int, fn func(part, lo, hi int)) {
	parallelFor(r.Threads, n, grain, fn, &r.done)
}

// Parts returns the number of parts For(n, grain, ...) uses at the current
// thread count (kernels.Threads()).
func Parts(n, grain int) int { return max(1, min(kernels.Threads(), n/max(1, grain))) }
