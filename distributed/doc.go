// Package distributed runs data-parallel training across processes: the
// collective operations a training step needs (Comm: rank, size, a
// deterministic Allreduce sum, a broadcast, a barrier, each with a timeout)
// and the nn.DataParallel that splits every global batch among the ranks
// and sums their gradients (Trainer).
//
// Two Comm implementations exist. Local is the single process (size 1),
// used by the default, pure-Go build. The MPI one (Open, built only with
// the `mpi` build tag and cgo) links Open MPI through
// github.com/emer/empi; without the tag Open returns ErrNoMPI.
//
// Reduction tree (docs/distributed.md, Determinism): AllreduceSum does not
// use MPI_Allreduce, whose order of additions is the library's choice. It
// gathers every rank's vector on every rank (MPI_Allgather) and adds them
// element by element in rank order, as a left chain:
//
//	sum = ((v0 + v1) + v2) + ... + v(N-1)
//
// in the vectors' own type (float32 or float64). Every rank executes the
// same additions on the same operands, so every rank ends with the same
// bits, and a rerun with the same N gives them again.
package distributed
