package kernels

import "sync"

// Multithreading of Sgemm: a call is cut into at most Threads() parts along
// m (or along n when m is short), at tile boundaries, never along k. Parts
// run on persistent worker goroutines, so that a call neither spawns
// goroutines nor allocates.

// minWorkPerThread is the smallest number of multiply-adds (m*n*k) worth
// handing to another goroutine; smaller calls, and the small problems in
// general, run on the calling goroutine alone.
const minWorkPerThread = 1 << 16

// gemmTask is one part of a job: rows [m0, m1) and columns [n0, n1) of C.
type gemmTask struct {
	job            *gemmJob
	m0, m1, n0, n1 int
}

var (
	workMu    sync.Mutex
	workers   int           // worker goroutines started so far
	workQueue chan gemmTask // parts waiting for a worker
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
		go func() {
			for t := range workQueue {
				t.job.run(t.m0, t.m1, t.n0, t.n1)
				t.job.wg.Done()
			}
		}()
	}
}

// parallel runs job j on up to Threads() goroutines, the caller's included.
func (j *gemmJob) parallel() {
	ks := j.ks
	mTiles := (j.m + ks.mr - 1) / ks.mr
	nTiles := (j.n + ks.nr - 1) / ks.nr
	work := j.m * j.n * j.k
	t := min(Threads(), max(1, work/minWorkPerThread))
	// Split m unless it has too few tiles to keep t goroutines busy and n
	// has more.
	splitN := mTiles < 2*t && nTiles > mTiles
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
	j.wg.Add(t - 1)
	// Part i gets tiles [i*tiles/t, (i+1)*tiles/t); the caller takes part 0.
	for i := 1; i < t; i++ {
		lo, hi := i*tiles/t, (i+1)*tiles/t
		task := gemmTask{job: j, m0: 0, m1: j.m, n0: 0, n1: j.n}
		if splitN {
			task.n0, task.n1 = lo*ks.nr, min(j.n, hi*ks.nr)
		} else {
			task.m0, task.m1 = lo*ks.mr, min(j.m, hi*ks.mr)
		}
		workQueue <- task
	}
	if splitN {
		j.run(0, j.m, 0, min(j.n, tiles/t*ks.nr))
	} else {
		j.run(0, min(j.m, tiles/t*ks.mr), 0, j.n)
	}
	j.wg.Wait()
}
