// Package workers runs the parallel parts of goqat's compute kernels
// (internal/kernels, internal/qkernels) on one pool of persistent worker
// goroutines, so that a parallel call neither spawns goroutines nor
// allocates, and holds the process's thread count (N, Set; the public face
// is package threads).
//
// A call splits its work into numbered parts along dimensions whose
// elements are computed independently, hands all parts but one to the
// workers (Group.Go), runs the remaining one itself and waits (Group.Wait):
// results never depend on the thread count. For is that loop over a range;
// Runner is For with a caller-owned Group, the non-allocating form an
// operator keeps for its lifetime.
//
// The pool is tuned for small machines where waking a parked thread costs
// tens of microseconds (pool.go): idle workers poll for work for a while
// before they park, and a waiting caller polls for its parts, running
// parts still in the queue itself, before it blocks.
package workers

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// EnvThreads is the environment variable read at start-up for the thread
// count: a positive decimal integer; any other value is ignored.
const EnvThreads = "GOQAT_THREADS"

var threads atomic.Int64

func init() {
	threads.Store(int64(runtime.GOMAXPROCS(0)))
	if n, ok := parseThreads(os.Getenv(EnvThreads)); ok {
		threads.Store(int64(n))
	}
}

// parseThreads parses a thread count as GOQAT_THREADS gives it: a positive
// decimal integer, spaces around it allowed. ok is false for anything else
// (empty, not a number, zero or negative).
func parseThreads(s string) (n int, ok bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Set sets how many threads parallel calls split their work across, at
// most; n < 1 means runtime.GOMAXPROCS(0). Calls already running keep the
// count they started with.
func Set(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads.Store(int64(n))
}

// N returns the thread count (at least 1).
func N() int { return int(threads.Load()) }
