package distributed

import (
	"fmt"

	"github.com/goqat/goqat/nn"
)

// Trainer is the nn.DataParallel of a communicator: set it as
// nn.FitOptions.DataParallel on every rank.
//
// Share: rank r of N takes samples [r*B/N, (r+1)*B/N) of each global batch
// of B samples (integer division), a contiguous piece of the epoch's
// seeded shuffle, so the shares partition the batch and differ in size by
// at most one.
//
// Reduce: each rank scales its gradients by its share of the batch, one
// AllreduceSum (float32, rank order) sums them over the ranks, and one
// AllreduceSum64 sums the loss and accuracy counts; then rank 0's
// non-trainable state (BatchNorm moving statistics, quantizer ranges) is
// broadcast, so every rank holds the model rank 0 holds (as PyTorch DDP
// broadcasts its buffers). BatchNorm normalizes with the statistics of
// the rank's own share (docs/distributed.md, Determinism).
type Trainer struct {
	comm  Comm
	grads []float32 // every trainable gradient, flat
	state []float32 // every non-trainable value, flat
}

// NewTrainer returns the Trainer of comm.
func NewTrainer(comm Comm) *Trainer { return &Trainer{comm: comm} }

// Comm returns the Trainer's communicator.
func (t *Trainer) Comm() Comm { return t.comm }

// Share returns this rank's contiguous share of batch.
func (t *Trainer) Share(batch []int) []int {
	r, n, b := t.comm.Rank(), t.comm.Size(), len(batch)
	return batch[r*b/n : (r+1)*b/n]
}

// Reduce sums the scaled gradients and the stats over the ranks and
// broadcasts rank 0's non-trainable state.
func (t *Trainer) Reduce(params []*nn.Param, scale float32, stats []float64) error {
	if t.comm.Size() == 1 {
		return nil
	}
	ng, ns := 0, 0
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			ng += len(p.Grad.Data)
		} else {
			ns += len(p.Value.Data)
		}
	}
	t.grads, t.state = grow(t.grads, ng), grow(t.state, ns)
	g, st := t.grads[:0], t.state[:0]
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			for _, v := range p.Grad.Data {
				g = append(g, v*scale)
			}
		} else {
			st = append(st, p.Value.Data...)
		}
	}
	if err := t.comm.AllreduceSum(g); err != nil {
		return fmt.Errorf("gradients: %w", err)
	}
	if err := t.comm.AllreduceSum64(stats); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	if err := t.comm.Broadcast(0, st); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			g = g[copy(p.Grad.Data, g):]
		} else {
			st = st[copy(p.Value.Data, st):]
		}
	}
	return nil
}
