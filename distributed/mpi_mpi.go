//go:build mpi

package distributed

/*
#cgo pkg-config: ompi
#include <mpi.h>
#include <stdlib.h>

// goqat_errors_return makes MPI calls on MPI_COMM_WORLD return their error
// codes instead of aborting the job, so that they become Go errors.
static int goqat_errors_return(void) {
	return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

// goqat_exchange runs up to two sends and two receives of floats on
// MPI_COMM_WORLD at once (MPI_Isend, MPI_Irecv, then MPI_Waitall): send
// i sends n[i] floats from buf[i] to rank peer[i] with tag[i], receive
// i (index 2+i) receives n[2+i] floats into buf[2+i] from rank
// peer[2+i]; a negative peer skips that transfer.
static int goqat_exchange(float *buf[4], int n[4], int peer[4], int tag[4]) {
	MPI_Request req[4];
	int k = 0, rc;
	for (int i = 0; i < 4; i++) {
		if (peer[i] < 0) {
			continue;
		}
		if (i < 2) {
			rc = MPI_Isend(buf[i], n[i], MPI_FLOAT, peer[i], tag[i], MPI_COMM_WORLD, &req[k]);
		} else {
			rc = MPI_Irecv(buf[i], n[i], MPI_FLOAT, peer[i], tag[i], MPI_COMM_WORLD, &req[k]);
		}
		if (rc != MPI_SUCCESS) {
			return rc;
		}
		k++;
	}
	return k == 0 ? MPI_SUCCESS : MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

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
// sends and receives at once (nonblocking, then a wait for all four) the
// partial sum of one piece (to rank r+1, from rank r-1) and the final sum
// of another (to rank r-1, from rank r+1), then adds its contribution to
// the partial sum it received. The two directions of each link work at
// once, so the return overlaps the chain.
func (c *mpiComm) ChainSum(v []float32, add func([]float32, int, bool)) error {
	if c.size == 1 {
		return Local{}.ChainSum(v, add)
	}
	if len(v) == 0 {
		return c.Barrier()
	}
	return c.w.do(fmt.Sprintf("ChainSum of %d float32", len(v)), func() error {
		// The pointers live in C memory: cgo forbids passing Go memory
		// that holds Go pointers.
		bufs := (*[4]*C.float)(C.malloc(C.size_t(4 * unsafe.Sizeof((*C.float)(nil)))))
		defer C.free(unsafe.Pointer(bufs))
		var pinner runtime.Pinner
		defer pinner.Unpin()
		return chainSteps(c.rank, c.size, len(v), func(t chainStep) error {
			var n, peer, tag [4]C.int
			some := false
			for i, x := range [4]struct{ piece, peer, tag int }{
				{t.sendPart, t.next, chainTag}, {t.sendSum, t.prev, chainTag + 1},
				{t.recvPart, t.prev, chainTag}, {t.recvSum, t.next, chainTag + 1},
			} {
				peer[i], bufs[i] = -1, nil
				if x.piece < 0 {
					continue
				}
				p := pieceOf(v, x.piece)
				pinner.Pin(&p[0])
				bufs[i], n[i], peer[i], tag[i] = (*C.float)(&p[0]), C.int(len(p)), C.int(x.peer), C.int(x.tag)
				some = true
			}
			if some {
				if rc := C.goqat_exchange(&bufs[0], &n[0], &peer[0], &tag[0]); rc != C.MPI_SUCCESS {
					return fmt.Errorf("distributed: rank %d of %d: ChainSum's exchange failed (MPI code %d)", c.rank, c.size, int(rc))
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
