// Package threads sets how many threads goqat's compute kernels use: the
// float GEMM and passes of training and float inference, and the int8
// kernels of package lite. Work is split only along dimensions whose
// elements are computed independently, never along a reduction, so results
// are bit for bit the same for any thread count; only the speed changes.
//
// The default is runtime.GOMAXPROCS(0) at start-up, or the value of the
// environment variable GOQAT_THREADS when it is a positive decimal integer
// (spaces around it allowed), e.g. GOQAT_THREADS=1 for one thread. Any
// other value of GOQAT_THREADS (empty, not a number, zero, negative) is
// ignored and the default kept. The variable is read once, when the
// program starts, by every program that uses goqat's kernels, whether or
// not it imports this package; Set overrides it.
//
// The parts of a parallel call run on persistent worker goroutines that
// poll for work for a fraction of a millisecond after their last part
// before they park, which keeps back-to-back calls fast on small machines.
// An Interpreter of package lite can cap its own threads below or above
// this setting (Interpreter.SetThreads).
package threads

import "github.com/goqat/goqat/internal/workers"

// Env is the environment variable read at start-up for the thread count.
const Env = workers.EnvThreads

// Set sets how many threads the kernels split their work across, at most;
// n < 1 means runtime.GOMAXPROCS(0). Call it at start-up or between runs:
// calls already running keep the count they started with.
func Set(n int) { workers.Set(n) }

// N returns the current thread count (at least 1).
func N() int { return workers.N() }
