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

// gemmTask is one part of a job: rows [m0, m1) and columns [n0, n1) of C,
// or, when pf is set, the range [m0, m1) of a ParallelFor call.
type gemmTask struct {
	job            *gemmJob
	m0, m1, n0, n1 int
	pf             *forJob
}

// run runs the part and marks it done.
func (t gemmTask) run() {
	if t.pf != nil {
		t.pf.fn(t.m0, t.m1)
		t.pf.wg.Done()
		t.pf.pending.Add(-1) // the last use of t.pf
		return
	}
	j := t.job
	j.run(t.m0, t.m1, t.n0, t.n1)
	j.wg.Done()
	j.pending.Add(-1) // the last use of j: the caller may now recycle it
}

// helpOnce runs one part waiting in the queue, if any, and reports
// whether it did. A goroutine waiting for its parts helps this way, so
// that parts queued by nested calls (a ParallelFor part that calls Sgemm)
// always find a goroutine to run them.
func helpOnce() bool {
	select {
	case t := <-workQueue:
		t.run()
		return true
	default:
		return false
	}
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
		t.run()
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

// wait returns when every part of j handed to a worker is done
// (waitParts).
func (j *gemmJob) wait() { waitParts(&j.pending, &j.wg) }

// waitParts returns when pending, the count of a call's parts handed to
// workers and not done, is zero; wg counts the same parts. It polls for up
// to callerSpin, running parts waiting in the queue (its own, or those of
// nested calls) or else yielding between tries (with more threads than
// cores a part may be waiting for this core), then blocks on wg, but only
// while the queue is empty (every part queued then is being run), so that
// a machine shared with other processes gets the core back.
func waitParts(pending *atomic.Int32, wg *sync.WaitGroup) {
	var start time.Time
	for i := 0; pending.Load() != 0; i++ {
		if helpOnce() {
			continue
		}
		runtime.Gosched()
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > callerSpin && len(workQueue) == 0 {
				wg.Wait()
				for pending.Load() != 0 { // at most a few instructions away
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
	// has more. The row kernel computes each row of C on its own, so its
	// rows split as well as its columns: n unless it has fewer column
	// blocks than m has rows (a product of a few rows and long k, such as
	// a first convolution's weight gradient, col^T x dOut).
	splitN := mTiles < 2*t && nTiles > mTiles
	if j.rows {
		splitN = nTiles >= t || nTiles >= mTiles
	}
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
