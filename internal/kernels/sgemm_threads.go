package kernels

import (
	_ "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Multithreading of Sgemm: a call is cut into at most Threads() parts along
// m (or along n when m is short), at tile boundaries, never along k. Parts
// run on persistent worker goroutines, so that a call neither spawns
// goroutines nor allocates.

// minWorkPerThread is the smallest number of multiply-adds (m*n*k) worth
// handing to another goroutine, about 5 microseconds of work on one core:
// waking a worker costs a few microseconds, so smaller problems (below
// 2*minWorkPerThread in all) run on the calling goroutine alone.
const minWorkPerThread = 1 << 19

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

// spinTime is how long an idle worker keeps polling the queue before it
// blocks. Waking a blocked goroutine means waking an OS thread, and in a VM
// a halted virtual CPU: measured at tens of microseconds here, more than a
// mid-sized product takes. Training calls Sgemm back to back, so a worker
// that polls for a while after its last part picks up the next one at
// once. It yields between polls, so other goroutines are not held up.
const spinTime = 200 * time.Microsecond

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
		t.job.run(t.m0, t.m1, t.n0, t.n1)
		t.job.wg.Done()
	}
}

// poll waits up to spinTime for a part, yielding between tries.
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
			} else if time.Since(start) > spinTime {
				return gemmTask{}, false
			}
		}
		// runtime.Gosched()
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
	j.wg.Wait()
}
