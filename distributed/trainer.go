package distributed

import (
	"fmt"

	"github.com/goqat/goqat/nn"
)

// Trainer is the nn.DataParallel of a communicator: set it as
// nn.FitOptions.DataParallel on every rank (docs/distributed.md).
//
// Blocks: each global batch of B samples is cut into Blocks sample
// blocks, block k holding samples [k*B/Blocks, (k+1)*B/Blocks) of the
// epoch's seeded shuffle (integer division: sizes differ by at most one);
// rank r of N trains on blocks r*Blocks/N .. (r+1)*Blocks/N-1, one at a
// time.
//
// Reduce: each block's gradients are scaled by its share of the batch
// (len(block)/B) and kept; the gradients of all blocks are added in block
// order, as a left chain g = ((g0 + g1) + g2) + ..., along the chain of
// ranks (Comm.ChainSum): rank 0 adds its blocks, passes the partial sum
// to rank 1, which adds its own, and so on, piece by piece; the last
// rank's sum travels back down the chain. The loss and accuracy counts are gathered
// (Allgather) and summed the same way in float64. Then rank 0's
// non-trainable state (BatchNorm moving statistics, quantizer ranges; Fit
// leaves on each rank the state after its first block, every block
// starting from the step's state) is broadcast, and its trainable values
// in a step where a forward pass changed them (LSQ's initialisation), so
// every rank holds the model rank 0 holds (as PyTorch DDP broadcasts its
// buffers). The result
// depends on Blocks, never on the number of ranks: an N-rank job and one
// process with the same Blocks (Trainer over Local) end with the same
// weights, bit for bit. BatchNorm normalizes with the statistics of its
// block, or of the whole batch with SyncBN.
type Trainer struct {
	comm   Comm
	blocks int
	size   int       // gradient values per block
	grads  []float32 // this rank's blocks' scaled gradients, block by block
	stats  []float64 // this rank's blocks' {loss sum, correct}
	all    []float32 // every block's gradients (the Allgather of a small vector)
	all64  []float64 // every block's stats (Allgather)
	state  []float32 // non-trainable state
	sum    []float32 // the gradients' sum (ChainSum)
	values []float32 // trainable values (Broadcast)
	syncBN bool
}

// SetSyncBN turns synchronized BatchNorm on or off (off by default): on,
// every training BatchNormalization (also inside quantize's folded
// Conv+BN) normalizes with the statistics of the whole global batch, its
// blocks' partials exchanged (GatherBlocks) and combined in block order at
// each BatchNormalization's forward and backward pass (nn.SyncBatchNorm,
// docs/distributed.md). Every rank must set the same. The result still
// depends on the blocks only, not on the number of ranks.
func (t *Trainer) SetSyncBN(on bool) { t.syncBN = on }

// SyncBN reports whether BatchNorm is synchronized (SetSyncBN).
func (t *Trainer) SyncBN() bool { return t.syncBN }

// GatherBlocks sets all (BlockCount() x n) to every block's n values in
// block order, given this rank's blocks' values in mine (an Allgather).
func (t *Trainer) GatherBlocks(all, mine []float64) error {
	if len(all) != len(mine)*t.comm.Size() || len(mine)%(t.blocks/t.comm.Size()) != 0 {
		return fmt.Errorf("distributed: gathering %d values per rank into %d for %d blocks", len(mine), len(all), t.blocks)
	}
	if t.comm.Size() == 1 {
		copy(all, mine)
		return nil
	}
	return t.comm.Allgather64(all, mine)
}

// NewTrainer returns the Trainer of comm that cuts every batch into blocks
// sample blocks (the number of ranks if blocks is 0). blocks must be a
// multiple of the number of ranks.
func NewTrainer(comm Comm, blocks int) (*Trainer, error) {
	n := comm.Size()
	if blocks == 0 {
		blocks = n
	}
	if blocks < 1 || blocks%n != 0 {
		return nil, fmt.Errorf("distributed: %d sample blocks per batch is not a positive multiple of the %d ranks", blocks, n)
	}
	return &Trainer{comm: comm, blocks: blocks}, nil
}

// Comm returns the Trainer's communicator.
func (t *Trainer) Comm() Comm { return t.comm }

// BlockCount returns the number of sample blocks per global batch.
func (t *Trainer) BlockCount() int { return t.blocks }

// Blocks returns this rank's sample blocks of batch and the index of the
// first.
func (t *Trainer) Blocks(batch []int) (int, [][]int) {
	per := t.blocks / t.comm.Size()
	first := t.comm.Rank() * per
	out := make([][]int, per)
	b := len(batch)
	for k := range out {
		g := first + k
		out[k] = batch[g*b/t.blocks : (g+1)*b/t.blocks]
	}
	return first, out
}

// Accumulate keeps block k's scaled gradients and stats.
func (t *Trainer) Accumulate(k int, params []*nn.Param, scale float32, stats []float64) error {
	per := t.blocks / t.comm.Size()
	if k < 0 || k >= per || len(stats) != nStats {
		return fmt.Errorf("distributed: block %d of %d (%d stats)", k, per, len(stats))
	}
	if k == 0 {
		ng, ns := 0, 0
		for _, p := range params {
			if p.Trainable && p.Grad != nil {
				ng += len(p.Grad.Data)
			} else {
				ns += len(p.Value.Data)
			}
		}
		t.size = ng
		t.grads = grow(t.grads, per*ng)
		t.stats = grow(t.stats, per*nStats)
		t.state = grow(t.state, ns)
	}
	g := t.grads[k*t.size : k*t.size]
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			for _, v := range p.Grad.Data {
				g = append(g, v*scale)
			}
		}
	}
	if len(g) != t.size {
		return fmt.Errorf("distributed: block %d has %d gradient values, block 0 had %d", k, len(g), t.size)
	}
	copy(t.stats[nStats*k:], stats)
	return nil
}

// nStats is the number of per-block stats (nn.DataParallel.Accumulate).
const nStats = 3

// Reduce adds every block's gradients and stats in block order and
// installs rank 0's state on every rank (and rank 0's trainable values
// when a block's forward pass changed them).
func (t *Trainer) Reduce(params []*nn.Param, stats []float64) error {
	if len(stats) != nStats {
		return fmt.Errorf("distributed: %d stats, want %d", len(stats), nStats)
	}
	n := t.comm.Size()
	t.all64 = grow(t.all64, n*len(t.stats))
	st := t.state[:0]
	for _, p := range params {
		if !(p.Trainable && p.Grad != nil) {
			st = append(st, p.Value.Data...)
		}
	}
	// The blocks' gradients, added in block order into the scratch vector
	// sum: along the chain of ranks, or, for a small vector on few ranks
	// (where the chain's steps cost more than moving every block to every
	// rank), gathered and added in the same order: the same bits.
	per := t.blocks / n
	t.sum = grow(t.sum, t.size)
	sum := t.sum
	if n > 1 && (n-1)*per*t.size <= gatherMaxValues {
		t.all = grow(t.all, n*per*t.size)
		if err := t.comm.Allgather(t.all, t.grads[:per*t.size]); err != nil {
			return fmt.Errorf("gradients: %w", err)
		}
		sumRanks(sum, t.all)
		return t.reduceRest(params, stats, st, n)
	}
	err := t.comm.ChainSum(sum, func(piece []float32, lo int, first bool) {
		for k := 0; k < per; k++ {
			src := t.grads[k*t.size+lo : k*t.size+lo+len(piece)]
			if first && k == 0 {
				copy(piece, src)
				continue
			}
			for i, v := range src {
				piece[i] += v
			}
		}
	})
	if err != nil {
		return fmt.Errorf("gradients: %w", err)
	}
	return t.reduceRest(params, stats, st, n)
}

// gatherMaxValues is the most gradient values a rank receives from the
// others in the Allgather that Reduce uses instead of the chain: 3 Mi
// float32 (12 MiB), about where the two cost the same on 2 ranks here
// (docs/distributed.md, the chain against the Allgather). A variable so
// that tests can send any size either way.
var gatherMaxValues = 3 << 20

// reduceRest is Reduce after the gradients' sum: the stats, rank 0's
// state and, if a forward pass changed them, its trainable values, then
// the sum installed as every parameter's gradient.
func (t *Trainer) reduceRest(params []*nn.Param, stats []float64, st []float32, n int) error {
	if n == 1 {
		copy(t.all64, t.stats)
	} else {
		if err := t.comm.Allgather64(t.all64, t.stats); err != nil {
			return fmt.Errorf("loss: %w", err)
		}
		if err := t.comm.Broadcast(0, st); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	sumRanks(stats, t.all64)
	if stats[2] != 0 && n > 1 {
		// A forward pass changed trainable values (a quantizer that
		// initialises a learned step from its first batch): every rank
		// takes rank 0's, those of block 0.
		tv := t.values[:0]
		for _, p := range params {
			if p.Trainable && p.Grad != nil {
				tv = append(tv, p.Value.Data...)
			}
		}
		t.values = tv
		if err := t.comm.Broadcast(0, tv); err != nil {
			return fmt.Errorf("trainable values: %w", err)
		}
		for _, p := range params {
			if p.Trainable && p.Grad != nil {
				tv = tv[copy(p.Value.Data, tv):]
			}
		}
	}
	g := t.sum
	for _, p := range params {
		if p.Trainable && p.Grad != nil {
			g = g[copy(p.Grad.Data, g):]
		} else {
			st = st[copy(p.Value.Data, st):]
		}
	}
	return nil
}
