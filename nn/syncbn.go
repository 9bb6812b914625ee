package nn

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/goqat/goqat/internal/kernels"
)

// SyncBatchNorm is implemented by a DataParallel that can synchronize
// BatchNormalization across the blocks of a global batch
// (docs/distributed.md, Synchronized BatchNorm). When SyncBN reports true,
// every training BatchNormalization (also the one inside quantize's folded
// Conv+BN) normalizes with the mean and variance of the whole global
// batch, and its backward pass uses the global sums of the gradient terms
// that the batch statistics couple, instead of its block's. Each block
// computes fixed per-block partials (its row count, mean and centred sum
// of squares; its sums of dy and dy*(x - mean)); GatherBlocks exchanges
// them and every block combines them in block order, so the result
// depends on the blocks, never on the ranks or threads.
//
// A rank that runs several blocks runs them as lanes: lane 0 on the
// model, lane i on a copy of it (built once per Fit with ToSafetensors
// and FromSafetensors, its values copied from the model before each
// step); the lanes take turns on one goroutine at a time and meet at each
// BatchNormalization, where the rank's blocks' partials are gathered from
// every rank.
type SyncBatchNorm interface {
	DataParallel
	// SyncBN reports whether BatchNormalization is synchronized.
	SyncBN() bool
	// BlockCount returns the number of sample blocks per global batch.
	BlockCount() int
	// GatherBlocks sets all (BlockCount() x n) to every block's vector
	// of n values, in block order, on every rank, given this rank's
	// blocks' vectors in mine (its blocks x n, in order). Every rank calls
	// it the same number of times with the same n.
	GatherBlocks(all, mine []float64) error
}

// laneGroup runs the lanes of one rank's blocks in turns (one at a time,
// lane 0 first) and gathers their partials at every synchronization
// point: a round ends when every lane has deposited its vector (or
// finished), and the last lane of the round calls gather.
type laneGroup struct {
	mu     sync.Mutex
	cond   *sync.Cond
	n      int         // lanes
	turn   int         // the lane that may run; -1 when all have finished
	round  int         // completed rounds
	done   []bool      // lane finished
	dep    [][]float64 // the current round's deposits, by lane
	res    []float64   // the last round's gathered vectors
	err    error       // a failed gather or lanes out of step
	gather func(all, mine []float64) error
	blocks int // blocks per batch: len(res) = blocks x width
}

// newLaneGroup returns the turns of n lanes over a job of blocks blocks.
func newLaneGroup(n, blocks int, gather func(all, mine []float64) error) *laneGroup {
	g := &laneGroup{n: n, done: make([]bool, n), dep: make([][]float64, n), gather: gather, blocks: blocks}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// blockLane is lane k of a laneGroup, the block with index block among
// all blocks; Context.lane points at it during a synchronized step.
type blockLane struct {
	g     *laneGroup
	k     int
	block int
}

// wait blocks until it is lane k's turn.
func (g *laneGroup) wait(k int) {
	g.mu.Lock()
	for g.turn != k {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// next passes the turn from lane k (the lock held): to the next lane
// that has not finished, or, after the last lane, ends the round.
func (g *laneGroup) next(k int) {
	for j := k + 1; j < g.n; j++ {
		if !g.done[j] {
			g.turn = j
			g.cond.Broadcast()
			return
		}
	}
	g.endRound()
}

// endRound gathers the round's deposits (the lock held) and gives the turn
// to the first lane that has not finished.
func (g *laneGroup) endRound() {
	width, all, some := -1, true, false
	for _, d := range g.dep {
		if d == nil {
			all = false
			continue
		}
		some = true
		if width >= 0 && len(d) != width {
			all = false
		}
		width = len(d)
	}
	if some {
		g.res = nil
		if !all && g.err == nil {
			g.err = errors.New("nn: synchronized BatchNorm: the blocks of a step reached different BatchNormalization layers")
		}
		if g.err == nil {
			mine := make([]float64, 0, g.n*width)
			for _, d := range g.dep {
				mine = append(mine, d...)
			}
			g.res = make([]float64, g.blocks*width)
			if err := g.gather(g.res, mine); err != nil {
				g.err = fmt.Errorf("synchronized BatchNorm: %w", err)
				g.res = nil
			}
		}
		clear(g.dep)
		g.round++
	}
	g.turn = -1
	for j := range g.done {
		if !g.done[j] {
			g.turn = j
			break
		}
	}
	g.cond.Broadcast()
}

// exchange deposits lane k's vector, waits for the round's end and
// returns every block's vector (blocks x len(v), in block order), or nil
// after an error (then the lane carries on with its own statistics and
// the step reports the error).
func (l *blockLane) exchange(v []float64) []float64 {
	g := l.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return nil
	}
	g.dep[l.k] = v
	r := g.round
	g.next(l.k)
	for g.round == r || g.turn != l.k {
		g.cond.Wait()
	}
	return g.res
}

// finish marks lane k finished and passes the turn.
func (g *laneGroup) finish(k int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done[k] = true
	g.dep[k] = nil
	g.next(k)
}

// wait blocks until every lane has finished.
func (g *laneGroup) waitAll() {
	g.mu.Lock()
	for g.turn != -1 {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// SyncsBlocks reports whether c is a block of a step with synchronized
// BatchNorm (SyncBatchNorm): then a training BatchNormalization exchanges
// its statistics with the other blocks. quantize's folded Conv+BN runs
// its BatchNormalization unfused in that case.
func (c *Context) SyncsBlocks() bool { return c != nil && c.lane != nil }

// bnForwardSync replaces st's batch statistics (after the statistics pass
// over this block's rows, FromBatch not yet run) by those of every block:
// each block's row count, mean and centred sum of squares, combined in
// block order (the pairwise update of Chan, Golub and LeVeque), then the
// normalization for them as FromBatch computes it. It returns false if
// the exchange failed (st then still holds the block's sums).
func bnForwardSync(l *blockLane, st *kernels.BNStats, gamma []float32, eps float64) bool {
	C := len(st.Mean)
	rows := float64(st.Rows())
	mine := make([]float64, 1+2*C)
	mine[0] = rows
	sd, sq := make([]float64, C), make([]float64, C)
	st.SumParts(sd, sq)
	for j := 0; j < C; j++ {
		d := sd[j] / rows
		mine[1+j] = st.Shift[j] + d
		mine[1+C+j] = max(sq[j]-sd[j]*d, 0)
	}
	all := l.exchange(mine)
	if all == nil {
		return false
	}
	w := 1 + 2*C
	blocks := len(all) / w
	for j := 0; j < C; j++ {
		n, mean, m2 := 0.0, 0.0, 0.0
		for b := 0; b < blocks; b++ {
			v := all[b*w : (b+1)*w]
			nb := v[0]
			if nb == 0 {
				continue
			}
			if n == 0 {
				n, mean, m2 = nb, v[1+j], v[1+C+j]
				continue
			}
			t := n + nb
			delta := v[1+j] - mean
			mean += delta * nb / t
			m2 += v[1+C+j] + delta*delta*n*nb/t
			n = t
		}
		v := max(m2/n, 0)
		st.Mean[j], st.Var[j] = mean, v
		st.Center[j] = float32(mean)
		st.Center64[j] = float64(st.Center[j])
		st.InvStd[j] = 1 / math.Sqrt(v+eps)
		st.Scale[j] = float32(float64(gamma[j]) * st.InvStd[j])
	}
	return true
}

// bnBackwardSync sets st's input-gradient coefficients K2 and K3 (after
// Grad over this block's gradient sums) to those of the global batch: with
// every block's sums of dy (G) and dy*(x - Center) (H), weighted by the
// block's rows r (each block's loss is its mean, scaled by its share of
// the batch when the gradients are summed),
//
//	K3 = -gamma*InvStd * sum_b(r_b*G_b) / (r*R),  K2 = -gamma*InvStd^3 * sum_b(r_b*H_b) / (r*R)
//
// summed in block order, R the rows of all blocks and r this block's: the
// gradient of the global batch's loss divided by this block's share, the
// scale Fit applies to the block's gradients afterwards. dgamma and dbeta
// stay the block's own (its share of the parameters' gradient). It
// returns false if the exchange failed.
func bnBackwardSync(l *blockLane, st *kernels.BNStats, gamma []float32) bool {
	C := len(st.Mean)
	rows := float64(st.Rows())
	mine := make([]float64, 1+2*C)
	mine[0] = rows
	st.SumParts(mine[1:1+C], mine[1+C:])
	all := l.exchange(mine)
	if all == nil {
		return false
	}
	w := 1 + 2*C
	blocks := len(all) / w
	for j := 0; j < C; j++ {
		R, a, h := 0.0, 0.0, 0.0
		for b := 0; b < blocks; b++ {
			v := all[b*w : (b+1)*w]
			R += v[0]
			a += v[0] * v[1+j]
			h += v[0] * v[1+C+j]
		}
		g, is := float64(gamma[j]), st.InvStd[j]
		st.K2[j] = float32(-g * is * is * is * h / (rows * R))
		st.K3[j] = float32(-g * is * a / (rows * R))
	}
	return true
}
