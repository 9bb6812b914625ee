package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// DataParallel makes Fit one rank of a data-parallel job
// (docs/distributed.md): every rank runs Fit with the same model, data,
// seed and batch size. Each global batch is cut into sample blocks (the
// same cut on every rank); each rank runs the forward and backward passes
// of its blocks, one block at a time, and the blocks' gradients are summed
// in block order before the optimizer step, so that every rank applies the
// same update. Package distributed implements it over MPI; with one rank
// and B blocks it is the single-process run that an N-rank job with B
// blocks reproduces bit for bit. Give FitOptions.Checkpoint to one rank
// only; every rank may Resume from its checkpoint.
type DataParallel interface {
	// Blocks returns the sample blocks of the global batch (indices into
	// the training set, in the epoch's shuffled order) that this rank
	// trains on, in order, and the index of the first among all blocks. A
	// block may be empty (a last batch with fewer samples than blocks).
	Blocks(batch []int) (first int, blocks [][]int)
	// Accumulate is called after block k (of Blocks, from 0) ran: each
	// trainable Grad holds the mean gradient of the block's samples (zero
	// for an empty block), scale is len(block)/len(batch) and stats holds
	// {loss x len(block), correct predictions}.
	Accumulate(k int, params []*Param, scale float32, stats []float64) error
	// Reduce is called on every rank after its blocks ran, before the
	// gradients are checked and the optimizer steps. It must leave in every
	// trainable Grad the gradient of the global batch (the blocks' scaled
	// gradients added in block order), the same non-trainable state (moving
	// statistics, quantizer ranges) on every rank, and set stats (2
	// values) to the sums of all blocks' stats.
	Reduce(params []*Param, stats []float64) error
}

// streamBlock is the seed stream of a data-parallel block's dropout.
const streamBlock = 0x424c_4f43 // "BLOC"

// dataParallelStep runs step of a data-parallel Fit (its index over the
// Fit call, seed FitOptions.Seed) on the samples batch of x and y: the
// forward and backward passes of each of this rank's blocks, then
// dp.Reduce. Block b draws its dropout masks from (seed, step, b), so
// that a block computes the same on any rank. It adds the batch's correct
// predictions (over all ranks) to *correct and returns the batch's mean
// loss over all ranks. Every rank calls Reduce, even when a loss is not
// finite, so that no rank waits for one that stopped.
func (m *Model) dataParallelStep(c *Context, dp DataParallel, seed uint64, step int, x, y *tensor.Tensor, batch []int, params []*Param, correct *int) (float64, error) {
	ts := &m.train
	first, blocks := dp.Blocks(batch)
	var src rand.PCG
	saved := c.Rand
	c.Rand = rand.New(&src)
	defer func() { c.Rand = saved }()
	// Every block starts from the state (moving statistics, quantizer
	// ranges) of the step's start, as on a rank that runs only that block;
	// the state the step leaves is the one after the rank's first block.
	start := ts.dpStart.save(params)
	stats := []float64{0, 0}
	for k, block := range blocks {
		stats[0], stats[1] = 0, 0
		if k == 1 {
			ts.dpFirst.save(params)
		}
		if k > 0 {
			start.restore(params)
		}
		backward := false
		if len(block) > 0 {
			src.Seed(seed, mix(streamBlock, uint64(step)<<20^uint64(first+k)))
			xb := gather(&ts.xb, &ts.shape, x, block)
			yb := gather(&ts.yb, &ts.shape, y, block)
			outs, err := m.Forward(c, xb)
			if err != nil {
				return 0, err
			}
			pred := outs[0]
			grad := tensor.Ensure(&ts.grad, pred.Shape...)
			loss := ts.loss.Compute(pred, yb, grad)
			stats[0] = loss * float64(len(block))
			if ts.accuracy {
				stats[1] = float64(countCorrect(pred, yb))
			}
			if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
				if err := m.Backward(c, grad); err != nil {
					return 0, err
				}
				backward = true
			}
		}
		if !backward {
			for _, p := range params {
				if p.Trainable && p.Grad != nil {
					clear(p.Grad.Data)
				}
			}
		}
		if err := dp.Accumulate(k, params, float32(len(block))/float32(len(batch)), stats); err != nil {
			return 0, err
		}
	}
	if len(blocks) > 1 {
		ts.dpFirst.restore(params)
	}
	if err := dp.Reduce(params, stats); err != nil {
		return 0, err
	}
	if !(stats[1] >= 0 && stats[1] <= float64(len(batch))) {
		return 0, fmt.Errorf("data-parallel step: %v correct predictions in a batch of %d", stats[1], len(batch))
	}
	*correct += int(stats[1])
	return stats[0] / float64(len(batch)), nil
}

// stateCopy holds the values of a model's non-trainable parameters
// (moving statistics, quantizer ranges), in parameter order.
type stateCopy struct{ v []float32 }

// save copies the non-trainable values of params into c and returns c.
func (c *stateCopy) save(params []*Param) *stateCopy {
	c.v = c.v[:0]
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			c.v = append(c.v, p.Value.Data...)
		}
	}
	return c
}

// restore copies the values c holds back into params.
func (c *stateCopy) restore(params []*Param) {
	v := c.v
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			v = v[copy(p.Value.Data, v):]
		}
	}
}
