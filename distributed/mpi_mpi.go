//go:build mpi

package distributed

/*
#cgo pkg-config: ompi
#include <mpi.h>

// goqat_errors_return makes MPI calls on MPI_COMM_WORLD return their error
// codes instead of aborting the job, so that they become Go errors.
static int goqat_errors_return(void) {
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

// goqat_sendrecv sends scount floats to rank dest and receives rcount
// floats from rank source on MPI_COMM_WORLD in one call (MPI_Sendrecv),
// with tag; a negative rank skips that half (MPI_PROC_NULL).
static int goqat_sendrecv(float *sbuf, int scount, int dest, float *rbuf, int rcount, int source, int tag) {
	return MPI_Sendrecv(sbuf, scount, MPI_FLOAT, dest < 0 ? MPI_PROC_NULL : dest, tag,
		rbuf, rcount, MPI_FLOAT, source < 0 ? MPI_PROC_NULL : source, tag,
		MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}
*/
import "C"

import (
	"fmt"
	"time"

	"github.com/emer/empi/mpi"
)

// MPIBuilt reports whether this binary was built with the mpi tag.
const MPIBuilt = true

// mpiComm is the MPI communicator of the world: every call runs on one
// locked OS thread (worker), bounded by the timeout.
type mpiComm struct {
	w          *worker
	cm         *mpi.Comm
	rank, size int
	g32        []float32 // Allgather buffers: size x len(v)
	g64        []float64
}

// Open initialises MPI (the process must have been started by mpirun, or
// it is a world of one) and returns the world communicator; each
// collective fails with an error wrapping ErrTimeout after timeout
// (DefaultTimeout if 0). Call it once per process, and Close at the end
// (MPI cannot start again after it ends).
func Open(timeout time.Duration) (Comm, error) {
	c := &mpiComm{}
	w, err := newWorker(timeout, func() error {
		mpi.LogErrors = false
		if !mpi.IsOn() {
			mpi.Init()
		}
		if rc := C.goqat_errors_return(); rc != C.MPI_SUCCESS {
			return fmt.Errorf("distributed: MPI_Comm_set_errhandler failed (code %d)", int(rc))
		}
		cm, err := mpi.NewComm(nil)
		if err != nil {
			return fmt.Errorf("distributed: %w", err)
		}
		c.cm, c.rank, c.size = cm, cm.Rank(), cm.Size()
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.w = w
	return c, nil
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

// AllreduceSum is ChainSum with each rank's v as its contribution: the
// same left chain in rank order as sumRanks, bit for bit.
func (c *mpiComm) AllreduceSum(v []float32) error {
	own := grow(c.g32, len(v))
	c.g32 = own
	copy(own, v)
	return c.ChainSum(v, func(piece []float32, lo int, first bool) {
		src := own[lo : lo+len(piece)]
		if first {
			copy(piece, src)
			return
		}
		for i, x := range src {
			piece[i] += x
		}
	})
}

// ChainSum passes v up the chain of ranks in pieces of ChainPiece values
// and the sum back down, in steps (chainSteps): at each step every rank
// exchanges with its neighbours (MPI_Sendrecv, deadlock-free) the partial
// sum of one piece (to rank r+1, from rank r-1) and the final sum of
// another (to rank r-1, from rank r+1), then adds its contribution to the
// partial sum it received. The two directions of each link work at once,
// so the return overlaps the chain.
func (c *mpiComm) ChainSum(v []float32, add func([]float32, int, bool)) error {
	if c.size == 1 {
		return Local{}.ChainSum(v, add)
	}
	if len(v) == 0 {
		return c.Barrier()
	}
	return c.w.do(fmt.Sprintf("ChainSum of %d float32", len(v)), func() error {
		return chainSteps(c.rank, c.size, len(v), func(t chainStep) error {
			for _, x := range [2]struct{ send, dest, recv, src, tag int }{
				{t.sendPart, t.next, t.recvPart, t.prev, chainTag},
				{t.sendSum, t.prev, t.recvSum, t.next, chainTag + 1},
			} {
				if x.send < 0 && x.recv < 0 {
					continue
				}
				var sb, rb *C.float
				var sn, rn C.int
				dest, src := C.int(-1), C.int(-1)
				if x.send >= 0 {
					p := pieceOf(v, x.send)
					sb, sn, dest = (*C.float)(&p[0]), C.int(len(p)), C.int(x.dest)
				}
				if x.recv >= 0 {
					p := pieceOf(v, x.recv)
					rb, rn, src = (*C.float)(&p[0]), C.int(len(p)), C.int(x.src)
				}
				if rc := C.goqat_sendrecv(sb, sn, dest, rb, rn, src, C.int(x.tag)); rc != C.MPI_SUCCESS {
					return fmt.Errorf("distributed: rank %d of %d: MPI_Sendrecv failed (code %d)", c.rank, c.size, int(rc))
				}
			}
			if t.add >= 0 {
				add(pieceOf(v, t.add), t.add*ChainPiece, c.rank == 0)
			}
			return nil
		})
	})
}

// chainTag is the MPI message tag of ChainSum's pieces.
const chainTag = 0x4348 // "CH"

func (c *mpiComm) AllreduceSum64(v []float64) error {
	c.g64 = grow(c.g64, c.size*len(v))
	if err := c.Allgather64(c.g64, v); err != nil {
		return err
	}
	sumRanks(v, c.g64)
	return nil
}

func (c *mpiComm) Allgather(dst, v []float32) error {
	if len(dst) != c.size*len(v) {
		return fmt.Errorf("distributed: Allgather of %d values from %d ranks into %d", len(v), c.size, len(dst))
	}
	if len(v) == 0 {
		return c.Barrier()
	}
	return c.w.do(fmt.Sprintf("Allgather of %d float32", len(v)), func() error {
		if err := c.cm.AllGatherF32(dst, v); err != nil {
			return fmt.Errorf("distributed: rank %d of %d: %w", c.rank, c.size, err)
		}
		return nil
	})
}

func (c *mpiComm) Allgather64(dst, v []float64) error {
	if len(dst) != c.size*len(v) {
		return fmt.Errorf("distributed: Allgather of %d values from %d ranks into %d", len(v), c.size, len(dst))
	}
	if len(v) == 0 {
		return c.Barrier()
	}
	return c.w.do(fmt.Sprintf("Allgather of %d float64", len(v)), func() error {
		if err := c.cm.AllGatherF64(dst, v); err != nil {
			return fmt.Errorf("distributed: rank %d of %d: %w", c.rank, c.size, err)
		}
		return nil
	})
}

func (c *mpiComm) Broadcast(root int, v []float32) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("distributed: broadcast from rank %d of %d", root, c.size)
	}
	if len(v) == 0 || c.size == 1 {
		return c.Barrier()
	}
	return c.w.do(fmt.Sprintf("Broadcast of %d float32", len(v)), func() error {
		if err := c.cm.BcastF32(root, v); err != nil {
			return fmt.Errorf("distributed: rank %d of %d: %w", c.rank, c.size, err)
		}
		return nil
	})
}

func (c *mpiComm) Barrier() error {
	return c.w.do("Barrier", func() error {
		if err := c.cm.Barrier(); err != nil {
			return fmt.Errorf("distributed: rank %d of %d: %w", c.rank, c.size, err)
		}
		return nil
	})
}

func (c *mpiComm) Close() error {
	err := c.w.do("Finalize", func() error {
		mpi.Finalize()
		return nil
	})
	c.w.stop()
	return err
}
