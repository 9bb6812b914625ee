//go:build !mpi

package distributed

import "time"

// MPIBuilt reports whether this binary was built with the mpi tag.
const MPIBuilt = false

// Open returns ErrNoMPI: this build has no MPI (the mpi build tag links
// Open MPI, docs/distributed.md). In the MPI build it initialises MPI and
// returns the world communicator.
func Open(timeout time.Duration) (Comm, error) { return nil, ErrNoMPI }
