package nn

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/tensor"
)

// DataParallel makes Fit one rank of a data-parallel job
// (docs/distributed.md): every rank runs Fit with the same model, data,
// seed and batch size, trains on its share of each global batch, and the
// ranks' gradients are summed before every optimizer step, so that every
// rank applies the same update. Package distributed implements it over
// MPI.
type DataParallel interface {
	// Share returns the samples of the global batch (indices into the
	// training set, in the epoch's shuffled order) that this rank trains
	// on. The ranks' shares must partition the batch; a share may be
	// empty (a last batch smaller than the number of ranks).
	Share(batch []int) []int
	// Reduce is called after the backward pass of every step, on every
	// rank, before the gradients are checked and the optimizer runs. Each
	// trainable Grad holds the mean gradient of this rank's share (zero for
	// an empty share); scale is len(share)/len(batch). Reduce must leave in
	// every Grad the gradient of the global batch (the scaled sum over
	// ranks) and make the non-trainable state (moving statistics,
	// quantizer ranges) agree on every rank; stats holds this rank's
	// {loss x len(share), correct predictions} and must hold their sums
	// over the ranks on return.
	Reduce(params []*Param, scale float32, stats []float64) error
}

// dataParallelStep runs one step of a data-parallel Fit on the samples
// batch of x and y: the forward and backward passes on this rank's share,
// then dp.Reduce. It adds the batch's correct predictions (over all ranks)
// to *correct and returns the batch's mean loss over all ranks. Every rank
// calls Reduce, even when its loss is not finite, so that no rank waits
// for another that stopped.
func (m *Model) dataParallelStep(c *Context, dp DataParallel, x, y *tensor.Tensor, batch []int, params []*Param, correct *int) (float64, error) {
	ts := &m.train
	share := dp.Share(batch)
	if len(share) > len(batch) {
		return 0, fmt.Errorf("data-parallel share of %d samples from a batch of %d", len(share), len(batch))
	}
	stats := []float64{0, 0}
	backward := false
	if len(share) > 0 {
		xb := gather(&ts.xb, &ts.shape, x, share)
		yb := gather(&ts.yb, &ts.shape, y, share)
		outs, err := m.Forward(c, xb)
		if err != nil {
			return 0, err
		}
		pred := outs[0]
		grad := tensor.Ensure(&ts.grad, pred.Shape...)
		loss := ts.loss.Compute(pred, yb, grad)
		stats[0] = loss * float64(len(share))
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
	if err := dp.Reduce(params, float32(len(share))/float32(len(batch)), stats); err != nil {
		return 0, err
	}
	*correct += int(stats[1])
	return stats[0] / float64(len(batch)), nil
}
