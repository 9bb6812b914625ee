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
	// {loss x len(block), correct predictions, 1 if the block's forward
	// pass changed trainable values (a quantizer that initialises a
	// learned step from its first batch, LSQ) else 0}.
	Accumulate(k int, params []*Param, scale float32, stats []float64) error
	// Reduce is called on every rank after its blocks ran, before the
	// gradients are checked and the optimizer steps. It must leave in every
	// trainable Grad the gradient of the global batch (the blocks' scaled
	// gradients added in block order), the same non-trainable state (moving
	// statistics, quantizer ranges) on every rank, and set stats (3
	// values) to the sums of all blocks' stats; if the third is not zero,
	// also the same trainable values on every rank (those that the first
	// block's forward pass left).
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
	if sb, ok := dp.(SyncBatchNorm); ok && sb.SyncBN() {
		return m.syncStep(c, sb, seed, step, x, y, batch, params, correct)
	}
	ts := &m.train
	first, blocks := dp.Blocks(batch)
	var src rand.PCG
	saved := c.Rand
	c.Rand = rand.New(&src)
	defer func() { c.Rand = saved }()
	// Every block starts from the values (moving statistics, quantizer
	// ranges; trainable values that a forward pass initialises) of the
	// step's start, as on a rank that runs only that block; the values
	// the step leaves are those after the rank's first block.
	start := ts.dpStart.save(params)
	stats := []float64{0, 0, 0}
	for k, block := range blocks {
		stats[0], stats[1], stats[2] = 0, 0, 0
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
			if start.trainableChanged(params) {
				stats[2] = 1
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

// syncStep is dataParallelStep with synchronized BatchNorm
// (SyncBatchNorm): this rank's blocks run as lanes (lane 0 on m, lane k
// on the copy ts.dpLanes[k-1], its values copied from m first), taking
// turns and meeting at every training BatchNormalization, then at the
// loss: every block learns whether every block's loss is finite, so that
// all blocks run their backward pass (whose BatchNormalizations meet
// again) or none does. Block k's dropout source is seeded as in
// dataParallelStep. Every block needs a sample.
func (m *Model) syncStep(c *Context, dp SyncBatchNorm, seed uint64, step int, x, y *tensor.Tensor, batch []int, params []*Param, correct *int) (float64, error) {
	ts := &m.train
	if nb := dp.BlockCount(); len(batch) < nb {
		return 0, fmt.Errorf("synchronized BatchNorm needs a sample in every block: a batch of %d samples in %d blocks (choose a batch size that leaves a last batch of at least %d samples)", len(batch), nb, nb)
	}
	first, blocks := dp.Blocks(batch)
	if len(blocks) == 0 {
		return 0, fmt.Errorf("data-parallel step: no blocks on this rank")
	}
	if err := m.ensureLanes(len(blocks) - 1); err != nil {
		return 0, err
	}
	models := append([]*Model{m}, ts.dpLanes[:len(blocks)-1]...)
	laneParams := make([][]*Param, len(models))
	laneParams[0] = params
	for k, lm := range models[1:] {
		lp := lm.params
		for i, p := range params {
			copy(lp[i].Value.Data, p.Value.Data)
		}
		laneParams[k+1] = lp
	}
	start := ts.dpStart.save(params)
	g := newLaneGroup(len(blocks), dp.BlockCount(), dp.GatherBlocks)
	type result struct {
		stats []float64
		err   error
	}
	res := make([]result, len(blocks))
	for k := range blocks {
		go func() {
			g.wait(k)
			defer g.finish(k)
			res[k].stats, res[k].err = m.syncLane(models[k], c, &blockLane{g: g, k: k, block: first + k}, seed, step, x, y, blocks[k], laneParams[k])
		}()
	}
	g.waitAll()
	for k, r := range res {
		if r.err != nil {
			return 0, fmt.Errorf("block %d: %w", first+k, r.err)
		}
	}
	if g.err != nil {
		return 0, g.err
	}
	stats := []float64{0, 0, 0}
	for k, block := range blocks {
		copy(stats, res[k].stats)
		stats[2] = 0
		if k == 0 && start.trainableChanged(params) {
			stats[2] = 1 // lane 0 ran on m
		}
		if err := dp.Accumulate(k, laneParams[k], float32(len(block))/float32(len(batch)), stats); err != nil {
			return 0, err
		}
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

// syncLane runs the forward and backward passes of block (its lane l) on
// lm, whose buffers it uses, and returns the block's stats {loss x
// len(block), correct predictions}; the gradients are left in params (lm's),
// zero if no backward pass ran.
func (m *Model) syncLane(lm *Model, c *Context, l *blockLane, seed uint64, step int, x, y *tensor.Tensor, block []int, params []*Param) ([]float64, error) {
	var src rand.PCG
	src.Seed(seed, mix(streamBlock, uint64(step)<<20^uint64(l.block)))
	lc := &Context{Training: c.Training, Step: c.Step, Rand: rand.New(&src), lane: l}
	lt := &lm.train
	xb := gather(&lt.xb, &lt.shape, x, block)
	yb := gather(&lt.yb, &lt.shape, y, block)
	outs, err := lm.Forward(lc, xb)
	if err != nil {
		return nil, err
	}
	pred := outs[0]
	grad := tensor.Ensure(&lt.grad, pred.Shape...)
	loss := m.train.loss.Compute(pred, yb, grad)
	stats := []float64{loss * float64(len(block)), 0}
	if m.train.accuracy {
		stats[1] = float64(countCorrect(pred, yb))
	}
	losses := l.exchange([]float64{loss})
	finite := losses != nil
	for _, v := range losses {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			finite = false
		}
	}
	if finite {
		return stats, lm.Backward(lc, grad)
	}
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			clear(p.Grad.Data)
		}
	}
	return stats, nil
}

// ensureLanes makes m.train.dpLanes hold at least n copies of m (its
// architecture; the values are copied before each step).
func (m *Model) ensureLanes(n int) error {
	ts := &m.train
	for len(ts.dpLanes) < n {
		f, err := ToSafetensors(m)
		if err != nil {
			return fmt.Errorf("synchronized BatchNorm: copying the model for a block: %w", err)
		}
		lm, err := FromSafetensors(f)
		if err != nil {
			return fmt.Errorf("synchronized BatchNorm: copying the model for a block: %w", err)
		}
		lm.params = lm.collectParams()
		if len(lm.params) != len(m.params) {
			return fmt.Errorf("synchronized BatchNorm: the model's copy has %d parameters, the model %d", len(lm.params), len(m.params))
		}
		for i, p := range lm.params {
			q := m.params[i]
			if len(p.Value.Data) != len(q.Value.Data) || p.Trainable != q.Trainable || (p.Grad == nil) != (q.Grad == nil) {
				return fmt.Errorf("synchronized BatchNorm: the model's copy differs in parameter %d", i)
			}
		}
		ts.dpLanes = append(ts.dpLanes, lm)
	}
	return nil
}

// stateCopy holds the values of a model's parameters, in parameter order.
type stateCopy struct{ v []float32 }

// save copies the values of params into c and returns c.
func (c *stateCopy) save(params []*Param) *stateCopy {
	c.v = c.v[:0]
	for _, p := range params {
		c.v = append(c.v, p.Value.Data...)
	}
	return c
}

// restore copies the values c holds back into params.
func (c *stateCopy) restore(params []*Param) {
	v := c.v
	for _, p := range params {
		v = v[copy(p.Value.Data, v):]
	}
}

// trainableChanged reports whether a trainable value of params differs,
// bit for bit, from the one c holds.
func (c *stateCopy) trainableChanged(params []*Param) bool {
	v := c.v
	for _, p := range params {
		n := len(p.Value.Data)
		if p.Trainable && p.Grad != nil {
			for i, x := range p.Value.Data {
				if math.Float32bits(x) != math.Float32bits(v[i]) {
					return true
				}
			}
		}
		v = v[n:]
	}
	return false
}
