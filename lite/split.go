package lite

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
)

// splitMin is the number of samples per thread from which Invoke splits
// the batch across threads (each runs every op on its share) instead of
// splitting every op: one hand-off per Invoke instead of one per op, and
// each thread's activations stay in its own cache.
const splitMin = 4

// batchSplit holds an interpreter's shares of a split batch: one
// single-threaded interpreter per thread whose buffers are windows on the
// parent's (samples are independent in every op, so the results are those
// of the whole batch, bit for bit) and whose kernels share the parent's
// packed weights.
type batchSplit struct {
	subs  []*Interpreter
	r     qkernels.Runner
	runFn func(part, lo, hi int)
	n     int // shares of the current Invoke
	// done, if not nil, stops every share between ops once closed
	// (InvokeContext).
	done <-chan struct{}
}

// sharer is a kernel whose prepared, read-only state (packed weights,
// output stage) another interpreter of the same model may share.
type sharer interface {
	shareWith(sub *Interpreter) kernel
}

// threads is the split's thread count: the interpreter's cap
// (Interpreter.SetThreads; 1 for a share), else kernels.Threads().
func (s *batchSplit) threads(it *Interpreter) int {
	if it.threads > 0 {
		return it.threads
	}
	return kernels.Threads()
}

// alloc creates and sizes the shares for batches of up to n samples
// (nothing when a batch of n would not be split).
func (s *batchSplit) alloc(it *Interpreter, n int) {
	t := s.threads(it)
	if t < 2 || n < splitMin*t {
		return
	}
	for len(s.subs) < t {
		sub := &Interpreter{m: it.m, i8: make([][]int8, len(it.i8)), f32: make([][]float32, len(it.f32)), threads: 1, fusion: it.fusion}
		sub.kernels = sub.shareKernels(it)
		s.subs = append(s.subs, sub)
	}
	per := (n + t - 1) / t
	for _, sub := range s.subs {
		if per > sub.capN {
			for _, k := range sub.kernels {
				k.alloc(per)
			}
			sub.capN = per
		}
	}
	if s.runFn == nil {
		s.runFn = func(_, lo, hi int) {
			for _, sub := range s.subs[lo:hi] {
				for _, k := range sub.kernels {
					if s.done != nil {
						select {
						case <-s.done:
							return
						default:
						}
					}
					k.run(sub.n)
				}
			}
		}
	}
}

// use runs the current batch split across threads if it is large enough,
// and reports whether it did.
func (s *batchSplit) use(it *Interpreter) bool {
	t := s.threads(it)
	n := it.n
	if t < 2 || n < splitMin*t {
		return false
	}
	s.alloc(it, n) // no-op unless the thread count grew since Allocate
	per := (n + t - 1) / t
	s.n = (n + per - 1) / per
	for j, sub := range s.subs[:s.n] {
		b0, b1 := j*per, min(n, (j+1)*per)
		for i := range it.m.Tensors {
			size := it.size(i)
			if it.shared(i) {
				// A window per share on each arena buffer, sized by the
				// buffer's largest tensor: the shares, which run apart,
				// never meet.
				s := it.arena.slot[i]
				lo := b0 * it.arena.size[s]
				if it.arena.f32[s] {
					sub.f32[i] = it.buf32[s][lo : lo+(b1-b0)*size : lo+(b1-b0)*size]
				} else {
					sub.i8[i] = it.buf8[s][lo : lo+(b1-b0)*size : lo+(b1-b0)*size]
				}
				continue
			}
			if it.i8[i] != nil {
				sub.i8[i] = it.i8[i][b0*size : b1*size : b1*size]
			}
			if it.f32[i] != nil {
				sub.f32[i] = it.f32[i][b0*size : b1*size : b1*size]
			}
		}
		sub.n = b1 - b0
	}
	s.r.Threads = t // a share per part, even above threads.N() (Interpreter.SetThreads)
	s.r.For(s.n, 1, s.runFn)
	return true
}
