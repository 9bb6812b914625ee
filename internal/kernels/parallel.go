package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
//
// The chunks run on the calling goroutine and on persistent worker
// goroutines (which poll for work for a while after their last chunk, as
// Sgemm's do, then block), so that a call neither spawns goroutines nor
// allocates in steady state. Each chunk is claimed by whichever goroutine
// gets to it first and the caller claims every chunk left, so fn may itself
// call ParallelFor or Sgemm without deadlock.
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
	if parts <= 1 {
		fn(0, n)
		return
	}
	startParWorkers(parts - 1)
	j := getParJob()
	j.fn, j.n, j.per = fn, n, per
	j.done.Store(0)
	j.gen++
	j.state.Store(j.gen<<parGenShift | uint64(parts)<<parPartsShift)
	for i := 1; i < parts; i++ {
		select {
		case parQueue <- j:
		default: // queue full: the caller runs the part itself
		}
	}
	j.help()
	j.wait(int64(parts))
	j.fn = nil // drop the reference to the caller's closure
	putParJob(j)
}

// parJob is one ParallelFor call: fn over [0, n) in parts of per values.
// Jobs are recycled; a worker woken for a job's earlier use may help with
// its current use, which is harmless: parts are claimed by compare-and-swap
// on state, which carries a generation so that a claim never matches a
// state of another use.
type parJob struct {
	// state packs gen<<parGenShift | parts<<parPartsShift | next part.
	state  atomic.Uint64
	done   atomic.Int64 // parts finished in this use
	gen    uint64       // this use's generation (caller only)
	fn     func(lo, hi int)
	n, per int
	wake   chan struct{} // a token from the worker that finished last
}

// Layout of parJob.state: the next part to claim in the low 20 bits, the
// number of parts in the next 20 (at most Threads(), far below 2^20), the
// generation above.
const (
	parPartsShift = 20
	parGenShift   = 40
	parMask       = 1<<parPartsShift - 1
)

// help claims and runs parts of j until none is left.
func (j *parJob) help() {
	for {
		s := j.state.Load()
		next, parts := s&parMask, s>>parPartsShift&parMask
		if next >= parts {
			return
		}
		if !j.state.CompareAndSwap(s, s+1) {
			continue
		}
		lo := int(next) * j.per
		j.fn(lo, min(lo+j.per, j.n))
		if j.done.Add(1) == int64(parts) {
			select {
			case j.wake <- struct{}{}:
			default:
			}
		}
	}
}

// wait returns when all parts of j are done. The parts left are being run
// by other goroutines: poll for up to callerSpin, yielding, then block
// until the last one's token (a token left from an earlier use only makes
// the loop check again).
func (j *parJob) wait(parts int64) {
	var start time.Time
	for i := 0; j.done.Load() != parts; i++ {
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > callerSpin {
				for j.done.Load() != parts {
					<-j.wake
				}
				return
			}
		}
		runtime.Gosched()
	}
}

var (
	parMu      sync.Mutex   // guards parWorkers and the channels' creation
	parWorkers int          // ParallelFor worker goroutines started so far
	parStarted atomic.Int32 // parWorkers, readable without the lock
	parQueue   chan *parJob // jobs waiting for help
	parFree    chan *parJob // recycled jobs
)

// getParJob returns a recycled job, or a new one.
func getParJob() *parJob {
	select {
	case j := <-parFree:
		return j
	default:
		return &parJob{wake: make(chan struct{}, 1)}
	}
}

// putParJob recycles j.
func putParJob(j *parJob) {
	select {
	case parFree <- j:
	default:
	}
}

// startParWorkers makes sure at least n ParallelFor workers are running.
// They live for the rest of the process.
func startParWorkers(n int) {
	if int(parStarted.Load()) >= n {
		return
	}
	parMu.Lock()
	defer parMu.Unlock()
	if parQueue == nil {
		parQueue = make(chan *parJob, 256)
		parFree = make(chan *parJob, 64)
	}
	for ; parWorkers < n; parWorkers++ {
		go parWorker()
	}
	parStarted.Store(int32(parWorkers))
}

// parWorker helps with jobs from the queue forever, polling for up to
// workerSpin (yielding) after each before it blocks.
func parWorker() {
	for {
		var j *parJob
		var start time.Time
	poll:
		for i := 0; ; i++ {
			select {
			case j = <-parQueue:
				break poll
			default:
			}
			if i%64 == 0 {
				if i == 0 {
					start = time.Now()
				} else if time.Since(start) > workerSpin {
					j = <-parQueue
					break poll
				}
			}
			runtime.Gosched()
		}
		j.help()
	}
}
