package distributed

import (
	"errors"
	"fmt"
	"time"
)

// Comm is a communicator: the ranks of one job and the collective
// operations training needs. Every rank must call the collectives in the
// same order with vectors of the same length. A collective that does not
// complete within the communicator's timeout (a rank died or hangs)
// returns an error wrapping ErrTimeout, and the communicator is unusable
// afterwards.
type Comm interface {
	// Rank is this process's index, 0..Size()-1.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllreduceSum replaces v on every rank by the element-wise sum of all
	// ranks' v, added in rank order (see the package doc).
	AllreduceSum(v []float32) error
	// ChainSum sets v on every rank to a sum built along the chain of
	// ranks 0 -> 1 -> ... -> N-1, piece by piece (see the package doc):
	// for each piece [lo, hi) of v, in order, rank 0 calls
	// add(v[lo:hi], lo, true), which must set the piece to rank 0's
	// contribution; each later rank receives the piece from the rank
	// before and calls add(v[lo:hi], lo, false), which must add its
	// contribution to it; the last rank's pieces are then copied back to
	// every rank. add is called once per piece on each rank, runs on the
	// thread of the collective and must not call the communicator.
	ChainSum(v []float32, add func(piece []float32, lo int, first bool)) error
	// AllreduceSum64 is AllreduceSum for float64 vectors.
	AllreduceSum64(v []float64) error
	// Allgather sets dst (Size() x len(v)) to every rank's v, rank by rank.
	Allgather(dst, v []float32) error
	// Allgather64 is Allgather for float64 vectors.
	Allgather64(dst, v []float64) error
	// Broadcast replaces v on every rank by rank root's v.
	Broadcast(root int, v []float32) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Close ends the job's communication (MPI_Finalize); call it once,
	// after the last collective.
	Close() error
}

// ErrTimeout is wrapped by the error of a collective that did not complete
// within the timeout.
var ErrTimeout = errors.New("distributed: collective timed out")

// ErrNoMPI is returned by Open in a build without the mpi tag.
var ErrNoMPI = errors.New("distributed: this goqat was built without MPI; rebuild with `go build -tags mpi` (cgo, Open MPI: libopenmpi-dev), see docs/distributed.md")

// DefaultTimeout bounds each collective when Open is given no timeout: long
// enough for a slow step of a large model, short enough that a dead rank
// ends the job.
const DefaultTimeout = 10 * time.Minute

// Local is the communicator of a single process: rank 0 of 1. Its
// collectives leave their vectors unchanged.
type Local struct{}

// Rank returns 0.
func (Local) Rank() int { return 0 }

// Size returns 1.
func (Local) Size() int { return 1 }

// AllreduceSum leaves v unchanged (the sum over one rank).
func (Local) AllreduceSum([]float32) error { return nil }

// AllreduceSum64 leaves v unchanged.
func (Local) AllreduceSum64([]float64) error { return nil }

// ChainSum calls add once per piece of v, as rank 0 of 1.
func (Local) ChainSum(v []float32, add func([]float32, int, bool)) error {
	for lo := 0; lo < len(v); lo += ChainPiece {
		hi := min(len(v), lo+ChainPiece)
		add(v[lo:hi], lo, true)
	}
	return nil
}

// Allgather copies v into dst.
func (Local) Allgather(dst, v []float32) error {
	return localGather(len(dst), len(v), func() { copy(dst, v) })
}

// Allgather64 copies v into dst.
func (Local) Allgather64(dst, v []float64) error {
	return localGather(len(dst), len(v), func() { copy(dst, v) })
}

// localGather runs cp if dst has room for the one rank's v.
func localGather(dst, v int, cp func()) error {
	if dst != v {
		return fmt.Errorf("distributed: Allgather of %d values into %d", v, dst)
	}
	cp()
	return nil
}

// Broadcast leaves v unchanged; root must be 0.
func (Local) Broadcast(root int, _ []float32) error {
	if root != 0 {
		return fmt.Errorf("distributed: broadcast from rank %d of 1", root)
	}
	return nil
}

// Barrier returns at once.
func (Local) Barrier() error { return nil }

// Close does nothing.
func (Local) Close() error { return nil }

// ChainPiece is the number of float32 values (256 KiB) that ChainSum
// passes from rank to rank at a time: small enough that the ranks of a
// long chain work at once on successive pieces (a pipeline), large enough
// that the per-message latency is small against the transfer.
const ChainPiece = 1 << 16

// sumRanks adds the n = len(all)/len(dst) vectors tiled in all (rank by
// rank) into dst in rank order: dst[i] = ((all0[i] + all1[i]) + ...).
func sumRanks[T float32 | float64](dst, all []T) {
	m := len(dst)
	copy(dst, all[:m])
	for off := m; off < len(all); off += m {
		src := all[off : off+m]
		for i, v := range src {
			dst[i] += v
		}
	}
}

// grow returns s with length n, reallocated only if too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
