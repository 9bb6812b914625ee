package nn

import (
	"context"

	"github.com/goqat/goqat/tensor"
)

// Batches supplies Fit's training batches in place of in-memory samples: a
// loader that reads, decodes and augments examples in the background
// (datasets.Loader; docs/DESIGN.md, Data loading). Fit decides the order as
// it does for in-memory samples (a shuffle seeded by (Seed, epoch)) and
// tells the source before the epoch's first step, so the source may
// prepare batches ahead; a source that returns the samples order names, in
// that order, trains exactly as the same samples in memory would.
type Batches interface {
	// Len is the number of training samples N.
	Len() int
	// StartEpoch tells the source that Fit will now ask, one Next call per
	// step, for the samples order[s*batch:(s+1)*batch] (the last batch
	// the rest) for steps s = from, from+1, ... of epoch (from 0). order
	// is a permutation of [0, N) that Fit may reuse once Stop is called;
	// ctx is Fit's context.
	StartEpoch(ctx context.Context, epoch int, order []int, batch, from int) error
	// Next returns the next step's samples (b, input shape...) and targets
	// (b, ...), valid until the next call of Next or Stop.
	Next() (x, y *tensor.Tensor, err error)
	// Stop ends the epoch: the source stops any background work before
	// it returns. Fit calls it at the end of every epoch and when it
	// returns early.
	Stop()
}
