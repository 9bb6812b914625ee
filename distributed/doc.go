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
// adds the ranks' vectors element by element in rank order, as a left
// chain:
//
//	sum = ((v0 + v1) + v2) + ... + v(N-1)
//
// in the vectors' own type, along the chain of ranks (ChainSum): rank 0
// sends its vector to rank 1 in pieces of ChainPiece values, rank 1 adds
// its own to each piece and sends it on, and so on; rank N-1's sums travel
// back down the chain, piece by piece, on the other direction of the
// links, one step behind (chain.go has the schedule). The trainer's
// gradient sum runs the same chain with each rank adding its blocks in
// block order, so the sum is the block-order left chain. Each rank sends
// and receives the vector about once each way whatever N is, where
// gathering every rank's vector on every rank (what AllreduceSum64 and the
// small per-block statistics still do: MPI_Allgather, then the sum in rank
// order) moves N-1 vectors to each rank. Every rank ends with the same
// bits, and a rerun with the same N gives them again.
package distributed
