package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Multithreading of Sgemm: a call is cut into at most Threads() parts along
// m (or along n when m is short), at tile boundaries, never along k. Parts
// run on persistent worker goroutines, so that a call neither spawns
// goroutines nor allocates.

// minWorkPerThread is the smallest number of multiply-adds (m*n*k) worth
// handing to another goroutine, about a microsecond of work on one core
// (with the polling below, a hand-off costs less than that when Sgemm is
// called back to back); smaller problems, below 2*minWorkPerThread in all,
// run on the calling goroutine alone.
const minWorkPerThread = 1 << 16

// gemmTask is one part of a job: rows [m0, m1) and columns [n0, n1) of C.
type gemmTask struct {
	job            *gemmJob
	m0, m1, n0, n1 int
}

var (
	// handedOff counts the parts run by worker goroutines, so that tests
	// can check that work was split.
	handedOff atomic.Int64

	workMu    sync.Mutex
	workers   int           // worker goroutines started so far
	workQueue chan gemmTask // parts waiting for a worker
)

// Waking a blocked goroutine means waking an OS thread, and in a VM a
// halted virtual CPU: measured at tens of microseconds here, more than a
// mid-sized product takes, and it happens twice per call (the worker's
// start, the caller's return). Training calls Sgemm back to back, so
// workers poll the queue for a while after their last part before they
// block, and the caller polls for its parts to finish before it blocks.
const (
	workerSpin = 200 * time.Microsecond // idle worker: poll, yielding
	callerSpin = time.Millisecond       // caller: wait for the parts
)

// startWorkers makes sure at least n worker goroutines are running. They
// live for the rest of the process, idle on the queue.
func startWorkers(n int) {
	workMu.Lock()
	defer workMu.Unlock()
	if workQueue == nil {
		workQueue = make(chan gemmTask, 256)
	}
	for ; workers < n; workers++ {
		go worker()
	}
}

// worker runs parts from the queue forever.
func worker() {
	for {
		t, ok := poll()
		if !ok {
			t = <-workQueue
		}
		j := t.job
		j.run(t.m0, t.m1, t.n0, t.n1)
		j.wg.Done()
		j.pending.Add(-1) // the last use of j: the caller may now recycle it
	}
}

// poll waits up to workerSpin for a part, yielding between tries so that
// other goroutines can run.
func poll() (gemmTask, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case t := <-workQueue:
			return t, true
		default:
		}
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > workerSpin {
				return gemmTask{}, false
			}
		}
		runtime.Gosched()
	}
}

// wait returns when every part of j handed to a worker is done: it polls
// for up to callerSpin, yielding between tries (with more threads than
// cores a part may be waiting for this core), then blocks.
func (j *gemmJob) wait() {
	var start time.Time
	for i := 0; j.pending.Load() != 0; i++ {
		runtime.Gosched()
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > callerSpin {
				j.wg.Wait()
				for j.pending.Load() != 0 { // at most a few instructions away
					runtime.Gosched()
				}
				return
			}
		}
	}
}

// parallel runs job j on up to Threads() goroutines, the caller's included.
func (j *gemmJob) parallel() {
	ks := j.ks
	mr, nr := ks.mr, ks.nr
	if j.rows {
		mr, nr = 1, ks.rw
	}
	mTiles := (j.m + mr - 1) / mr
	nTiles := (j.n + nr - 1) / nr
	work := j.m * j.n * j.k
	t := min(Threads(), max(1, work/minWorkPerThread))
	// Split m unless it has too few tiles to keep t goroutines busy and n
	// has more (always n for the row kernel).
	splitN := j.rows || mTiles < 2*t && nTiles > mTiles
	tiles := mTiles
	if splitN {
		tiles = nTiles
	}
	t = min(t, tiles)
	if t <= 1 {
		j.run(0, j.m, 0, j.n)
		return
	}
	startWorkers(t - 1)
	handedOff.Add(int64(t - 1))
	j.wg.Add(t - 1)
	j.pending.Store(int32(t - 1))
	// Part i gets tiles [i*tiles/t, (i+1)*tiles/t); the caller takes part 0.
	for i := 1; i < t; i++ {
		lo, hi := i*tiles/t, (i+1)*tiles/t
		task := gemmTask{job: j, m0: 0, m1: j.m, n0: 0, n1: j.n}
		if splitN {
			task.n0, task.n1 = lo*nr, min(j.n, hi*nr)
		} else {
			task.m0, task.m1 = lo*mr, min(j.m, hi*mr)
		}
		workQueue <- task
	}
	if splitN {
		j.run(0, j.m, 0, min(j.n, tiles/t*nr))
	} else {
		j.run(0, min(j.m, tiles/t*mr), 0, j.n)
	}
	j.wait()
}
