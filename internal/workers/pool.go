package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Waking a parked goroutine means waking an OS thread, and in a VM a halted
// virtual CPU: measured at tens of microseconds on a 2-core VM, more than a
// mid-sized float product or an int8 layer at batch 1 takes, and it would
// happen twice per call (the worker's start, the caller's return). Calls
// come back to back (training, a model's ops), so an idle worker polls the
// queue for a while before it parks, and a caller polls for its parts to
// finish before it blocks.
const (
	// workerSpin is how long an idle worker polls the queue, yielding
	// between polls, before it parks.
	workerSpin = 200 * time.Microsecond
	// callerSpin is how long a caller polls for its parts before it
	// blocks (only when the queue is empty: every queued part is running).
	callerSpin = time.Millisecond
	// tightSpin is how many times a caller first reads its count of parts
	// without yielding: the parts are about as long as its own, so the
	// last one is usually moments away.
	tightSpin = 256
)

// A Job is work split into numbered parts: Part(part, lo, hi) computes
// units [lo, hi) as part number part (which may index per-part scratch).
// A pointer type implements it without allocating when handed to Go.
type Job interface {
	Part(part, lo, hi int)
}

// Func is a function as a Job.
type Func func(part, lo, hi int)

// Part calls f.
func (f Func) Part(part, lo, hi int) { f(part, lo, hi) }

// Group counts the parts of one call handed to the workers and not yet
// done. The caller owns it and reuses it from call to call (the zero value
// is ready), so that a call does not allocate: keep it in a long-lived
// struct. A Group is not for concurrent calls; nested calls (a part that
// itself splits work) use their own Groups.
type Group struct {
	pending atomic.Int32   // parts handed off and not done
	wg      sync.WaitGroup // counts the same parts, to block on
}

// task is one part in the queue.
type task struct {
	job          Job
	part, lo, hi int
	g            *Group
}

// run runs the part and marks it done.
func (t *task) run() {
	t.job.Part(t.part, t.lo, t.hi)
	t.g.wg.Done()
	t.g.pending.Add(-1) // the last use of t.g: the caller may reuse it
}

var (
	// queue holds the parts waiting for a worker.
	queue = make(chan task, 256)

	startMu sync.Mutex
	started atomic.Int32 // worker goroutines started

	// handedOff counts the parts handed to the queue (HandedOff).
	handedOff atomic.Int64
)

// HandedOff returns the number of parts handed to the workers since the
// process started, so that tests can check that work was split.
func HandedOff() int64 { return handedOff.Load() }

// Go hands job.Part(part, lo, hi) to a worker. Call Wait before reusing
// anything the part reads or writes.
func (g *Group) Go(job Job, part, lo, hi int) {
	n := g.pending.Add(1)
	g.wg.Add(1)
	handedOff.Add(1)
	ensureWorkers(int(n))
	queue <- task{job: job, part: part, lo: lo, hi: hi, g: g}
}

// ensureWorkers makes sure at least n worker goroutines run: the parts of
// a call each get one. Workers live for the rest of the process.
func ensureWorkers(n int) {
	if int(started.Load()) >= n {
		return
	}
	startMu.Lock()
	defer startMu.Unlock()
	for int(started.Load()) < n {
		go worker()
		started.Add(1)
	}
}

// worker runs parts from the queue forever.
func worker() {
	for {
		var t task
		select {
		case t = <-queue:
		default:
			t = idle()
		}
		t.run()
	}
}

// idle polls the queue for workerSpin, yielding between polls (the clock
// read every 64 polls), then parks on it.
func idle() task {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case t := <-queue:
			return t
		default:
		}
		if i%64 == 0 && time.Since(start) > workerSpin {
			return <-queue
		}
		runtime.Gosched()
	}
}

// helpOnce runs one part waiting in the queue, if any, and reports whether
// it did. A caller waiting for its parts helps this way, so that a part
// queued by a nested call (a part that itself splits work) always finds a
// goroutine to run it, and a part no worker has taken yet does not wait
// for one.
func helpOnce() bool {
	select {
	case t := <-queue:
		t.run()
		return true
	default:
		return false
	}
}

// Wait returns when every part handed off with Go is done. It first reads
// the count tightly (tightSpin), then polls for up to callerSpin, running
// parts waiting in the queue (its own or those of nested calls) or else
// yielding between polls (with more threads than cores a part may be
// waiting for this core), then blocks, but only while the queue is empty
// (every part queued then is being run), so that a machine shared with
// other processes gets the core back.
func (g *Group) Wait() {
	if g.pending.Load() == 0 {
		return
	}
	if helpOnce() && g.pending.Load() == 0 {
		return
	}
	for range tightSpin {
		if g.pending.Load() == 0 {
			return
		}
	}
	var start time.Time
	for i := 0; g.pending.Load() != 0; i++ {
		if helpOnce() {
			continue
		}
		if i%64 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > callerSpin && len(queue) == 0 {
				g.wg.Wait()
				for g.pending.Load() != 0 { // at most a few instructions away
					runtime.Gosched()
				}
				return
			}
		}
		runtime.Gosched()
	}
}
