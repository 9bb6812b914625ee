package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/goqat/goqat/distributed"
	"github.com/goqat/goqat/nn"
	"github.com/spf13/pflag"
)

// distFlags are the data-parallel settings of train and quantize
// (docs/distributed.md): --distributed makes the process one rank of an
// MPI job started by mpirun.
type distFlags struct {
	on      bool
	blocks  int
	syncBN  bool
	timeout time.Duration
	trainer *distributed.Trainer // set by start when on
}

// addDistributedFlags registers --distributed, --blocks, --sync-bn and
// --distributed-timeout.
func addDistributedFlags(f *pflag.FlagSet, d *distFlags) {
	f.BoolVar(&d.on, "distributed", false, "train data-parallel as one rank of an MPI job (mpirun -np N goqat ...; needs a build with -tags mpi)")
	f.IntVar(&d.blocks, "blocks", 0, "sample blocks per batch, a multiple of the ranks (0: one per rank); the same blocks give the same weights on any number of ranks, also without --distributed (one process)")
	f.BoolVar(&d.syncBN, "sync-bn", false, "with --distributed or --blocks: BatchNorm uses the statistics of the whole global batch (synchronized across blocks and ranks) instead of each block's")
	f.DurationVar(&d.timeout, "distributed-timeout", distributed.DefaultTimeout, "with --distributed: end the job with an error when a collective waits longer (a rank died)")
}

// start opens the MPI communicator if --distributed is set, and sends the
// standard output of every rank but 0 to the null device, so that rank 0
// alone prints; --blocks alone trains one process as a job with those
// blocks would. The returned function ends MPI.
func (d *distFlags) start() (func(), error) {
	if d.blocks < 0 || !(d.timeout > 0) {
		return nil, fmt.Errorf("--blocks %d must not be negative and --distributed-timeout %v must be positive", d.blocks, d.timeout)
	}
	if d.syncBN && !d.on && d.blocks == 0 {
		return nil, errors.New("--sync-bn needs --distributed or --blocks (without them BatchNorm already uses the whole batch)")
	}
	if !d.on {
		if d.blocks > 0 {
			// One process that reproduces a job with these blocks.
			var err error
			if d.trainer, err = distributed.NewTrainer(distributed.Local{}, d.blocks); err != nil {
				return nil, err
			}
			d.trainer.SetSyncBN(d.syncBN)
			return func() {}, nil
		}
		return func() {}, nil
	}
	comm, err := distributed.Open(d.timeout)
	if errors.Is(err, distributed.ErrNoMPI) {
		return nil, errors.New("--distributed needs a goqat built with MPI: go build -tags mpi ./cmd/goqat (cgo, Open MPI's libopenmpi-dev; docs/distributed.md)")
	}
	if err != nil {
		return nil, fmt.Errorf("--distributed: %w", err)
	}
	if d.trainer, err = distributed.NewTrainer(comm, d.blocks); err != nil {
		comm.Close()
		return nil, err
	}
	d.trainer.SetSyncBN(d.syncBN)
	if comm.Rank() != 0 {
		if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			os.Stdout = null
		}
	}
	sync := ""
	if d.syncBN {
		sync = ", synchronized BatchNorm"
	}
	fmt.Printf("Data-parallel: %d ranks, %d sample blocks per batch%s\n", comm.Size(), d.trainer.BlockCount(), sync)
	return func() { comm.Close() }, nil
}

// apply makes o one rank's Fit: the trainer as o.DataParallel and, on
// ranks other than 0, no checkpoints (rank 0 writes them; --resume reads
// them on every rank, so the checkpoint folder must be shared).
func (d *distFlags) apply(o *nn.FitOptions) error {
	if d.trainer == nil {
		return nil
	}
	if o.Batches != nil {
		return errors.New("--distributed does not support --augment or --stream yet")
	}
	o.DataParallel = d.trainer
	if d.trainer.Comm().Rank() != 0 {
		o.Checkpoint = nil
	}
	return nil
}

// writer reports whether this process writes the output files: rank 0 of a
// distributed job, or any process that is not one.
func (d *distFlags) writer() bool {
	return d.trainer == nil || d.trainer.Comm().Rank() == 0
}
