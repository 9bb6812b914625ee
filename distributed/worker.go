package distributed

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// worker runs calls one at a time on one goroutine locked to its OS
// thread (MPI's funneled threading: every MPI call from the same thread)
// and bounds each call with a timeout. A call that times out leaves the
// worker broken: the call may never return (a dead peer), so every later
// call fails at once with the same error.
type worker struct {
	timeout time.Duration
	calls   chan func()
	mu      sync.Mutex
	broken  error
}

// newWorker starts the worker's goroutine; init, if not nil, runs first on
// the locked thread and its error is returned.
func newWorker(timeout time.Duration, init func() error) (*worker, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	w := &worker{timeout: timeout, calls: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if init != nil {
			errc <- init()
		} else {
			errc <- nil
		}
		for f := range w.calls {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return w, nil
}

// do runs f on the worker's thread and returns its error, or an error
// wrapping ErrTimeout if f has not returned within the timeout.
func (w *worker) do(op string, f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken != nil {
		return w.broken
	}
	done := make(chan error, 1)
	t := time.NewTimer(w.timeout)
	defer t.Stop()
	select {
	case w.calls <- func() { done <- f() }:
	case <-t.C:
		w.broken = fmt.Errorf("%w: %s did not start within %v (the worker is stuck in an earlier call)", ErrTimeout, op, w.timeout)
		return w.broken
	}
	select {
	case err := <-done:
		return err
	case <-t.C:
		w.broken = fmt.Errorf("%w: %s did not complete within %v: a rank died or stopped responding", ErrTimeout, op, w.timeout)
		return w.broken
	}
}

// stop ends the worker's goroutine after the calls already queued.
func (w *worker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken == nil {
		close(w.calls)
		w.broken = fmt.Errorf("distributed: the communicator is closed")
	}
}
