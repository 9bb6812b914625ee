package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// BatchNormalization normalizes its input over every axis but the last (the
// channels of NHWC images, the features of (N, C) inputs), then applies a
// per-channel affine map, like Keras's BatchNormalization:
//
//	training:  y = gamma * (x - mean_batch) / sqrt(var_batch + eps) + beta
//	inference: y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta
//
// var_batch is the biased batch variance (divided by the number of values
// per channel). Each training Forward updates the moving statistics as
//
//	moving = moving*d + batch*(1-d),  d = min(Momentum, (1+step)/(10+step))
//
// where step is Context.Step, the optimizer steps taken so far. The warm-up
// of d (TensorFlow's ExponentialMovingAverage with num_updates) is goqat's
// one departure from Keras: with Keras's constant 0.99 the moving statistics
// keep about 0.99^t of their initial values (mean 0, variance 1) after t
// steps, which after a short run (a few hundred steps) is far from the batch
// statistics of, say, a first convolution on MNIST whose output variance is
// 0.005, and the inference-mode model is then much worse than the trained
// one. The variance is that same biased variance, as Keras 3 and TF2 Keras on rank-2 inputs
// do (TF2 Keras's fused rank-4 path and PyTorch use the unbiased variance
// for the moving average instead).
//
// Per-channel sums over N*H*W are accumulated in float64, row by row, in a
// fixed number of row chunks that depends only on the input shape; the
// chunks may run in parallel and their partial sums are added in chunk
// order, so results do not depend on the thread count. The batch variance is
// computed in one pass from values shifted by the first row (the
// shifted-data algorithm), which is exact enough in float64 even when the
// mean is much larger than the spread. This arithmetic (the chunks, the
// statistics, the moving update and the gradient's coefficients) is
// kernels.BNStats, which quantize's folded Conv+BN shares.
type BatchNormalization struct {
	Base
	// Momentum is the moving statistics' decay (0.99 by default).
	Momentum float64
	// Epsilon is added to the variance before the square root (1e-3 by
	// default).
	Epsilon float64
	// Axis is the normalized (channel) axis, counted like Keras with the
	// batch as axis 0; only the last axis is supported: -1 (the default) or
	// the per-sample rank.
	Axis int
	// Gamma and Beta are the trainable scale and offset, shape (C).
	Gamma, Beta *Param
	// MovingMean and MovingVariance are the non-trainable inference
	// statistics, shape (C).
	MovingMean, MovingVariance *Param

	ch     int
	params []*Param

	x        *tensor.Tensor // input of the last Forward
	dy       []float32      // dOut of the running Backward
	out, dx  *tensor.Tensor
	dxs      [1]*tensor.Tensor
	training bool // mode of the last Forward

	// stats plans the reductions over the last Forward's (N*H*W, C) rows
	// and holds their partial sums, the normalization (center, scale)
	// and the gradient's coefficients.
	stats          kernels.BNStats
	mean, variance []float32 // batch statistics of the last training Forward

	// Fusion with a following ReLU or ReLU6 (see forwardAct): act is the
	// activation of the last Forward (actLinear: none) and y the tensor it
	// wrote. The fused Backward masks dy with that activation's output,
	// recomputed from x with the Forward's center, scale and betaFwd (a
	// copy of beta), the same bits as y (see kernels.NormParams).
	act     actKind
	y       *tensor.Tensor
	bact    actKind   // activation that masks dy in the running Backward
	betaFwd []float32 // beta of the last Forward

	statsFn, gradFn, normFn, bwdFn func(lo, hi int)

	// lane is the block of the last training Forward when BatchNorm is
	// synchronized across the blocks of a data-parallel step (nil
	// otherwise): its Backward exchanges the gradient sums too.
	lane *blockLane

	// Fusion with a following activation and max pooling (see
	// forwardActPool): pool is the MaxPooling2D whose output the last
	// Forward wrote (nil: none), poolScratch the per-thread image buffers
	// of the fused passes.
	pool                   *MaxPooling2D
	poolScratch            scratchList
	normPoolFn, gradPoolFn func(lo, hi int)
}

// BatchNormalizationConfig is BatchNormalization's saved configuration.
type BatchNormalizationConfig struct {
	Axis     int     `json:"axis"`
	Momentum float64 `json:"momentum"`
	Epsilon  float64 `json:"epsilon"`
}

// NewBatchNormalization returns a BatchNormalization layer with Keras's
// defaults: last axis, momentum 0.99, epsilon 1e-3.
func NewBatchNormalization() *BatchNormalization {
	return &BatchNormalization{Momentum: 0.99, Epsilon: 1e-3, Axis: -1}
}

func init() {
	Register("BatchNormalization", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := BatchNormalizationConfig{Axis: -1, Momentum: 0.99, Epsilon: 1e-3}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("BatchNormalization %q: config: %w", name, err)
		}
		b := &BatchNormalization{Axis: cfg.Axis, Momentum: cfg.Momentum, Epsilon: cfg.Epsilon}
		b.SetName(name)
		if err := b.checkConfig(); err != nil {
			return nil, err
		}
		return b, nil
	})
}

// checkConfig validates Momentum and Epsilon.
func (b *BatchNormalization) checkConfig() error {
	if !(b.Momentum >= 0 && b.Momentum <= 1) {
		return fmt.Errorf("BatchNormalization %q: momentum must be in [0, 1], got %v", b.Name(), b.Momentum)
	}
	if !(b.Epsilon > 0) || math.IsInf(b.Epsilon, 0) {
		return fmt.Errorf("BatchNormalization %q: epsilon must be positive and finite, got %v", b.Name(), b.Epsilon)
	}
	return nil
}

// Type returns "BatchNormalization".
func (b *BatchNormalization) Type() string { return "BatchNormalization" }

// Config returns a BatchNormalizationConfig.
func (b *BatchNormalization) Config() any {
	return BatchNormalizationConfig{Axis: b.Axis, Momentum: b.Momentum, Epsilon: b.Epsilon}
}

// Params returns gamma, beta, moving_mean and moving_variance, in Keras's
// order.
func (b *BatchNormalization) Params() []*Param { return b.params }

// Stats returns the batch mean and biased batch variance of the last
// training Forward, one value per channel (nil before the first). The slices
// are owned by the layer and overwritten by its next training Forward.
func (b *BatchNormalization) Stats() (mean, variance []float32) { return b.mean, b.variance }

// Build checks the input (any rank >= 1, normalized over the last axis) and
// creates the parameters.
func (b *BatchNormalization) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("BatchNormalization %q: expects 1 input, got %d", b.Name(), len(in))
	}
	if err := b.checkConfig(); err != nil {
		return nil, err
	}
	s := in[0]
	if len(s) == 0 {
		return nil, fmt.Errorf("BatchNormalization %q: input must have at least one axis besides the batch", b.Name())
	}
	if err := s.Valid(); err != nil {
		return nil, fmt.Errorf("BatchNormalization %q: %w", b.Name(), err)
	}
	if b.Axis != -1 && b.Axis != len(s) {
		return nil, fmt.Errorf("BatchNormalization %q: axis %d not supported: only the last axis (-1 or %d) is", b.Name(), b.Axis, len(s))
	}
	c := s[len(s)-1]
	b.ch = c
	b.Gamma = NewParam("gamma", true, c)
	b.Beta = NewParam("beta", true, c)
	b.MovingMean = NewParam("moving_mean", false, c)
	b.MovingVariance = NewParam("moving_variance", false, c)
	b.params = []*Param{b.Gamma, b.Beta, b.MovingMean, b.MovingVariance}
	b.stats.Plan(0, c)
	b.mean, b.variance = nil, nil
	for i := range b.Gamma.Value.Data {
		b.Gamma.Value.Data[i] = 1
		b.MovingVariance.Value.Data[i] = 1
	}
	b.statsFn = b.statsChunks
	b.gradFn = b.gradChunks
	b.normFn = b.normRows
	b.bwdFn = b.backwardRows
	b.normPoolFn = b.normPoolImages
	b.gradPoolFn = b.gradPoolChunks
	return s.Clone(), nil
}

// InitWeights sets gamma 1, beta 0, moving mean 0, moving variance 1.
func (b *BatchNormalization) InitWeights(r *rand.Rand) {
	for i := range b.Gamma.Value.Data {
		b.Gamma.Value.Data[i] = 1
		b.Beta.Value.Data[i] = 0
		b.MovingMean.Value.Data[i] = 0
		b.MovingVariance.Value.Data[i] = 1
	}
}

// Forward normalizes x with the batch statistics (training) or the moving
// ones (inference).
// x (N, ..., C) -> out (N, ..., C)
func (b *BatchNormalization) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	b.pool = nil
	b.forward(c, x, actLinear, tensor.Ensure(&b.out, x.Shape...))
	return b.out
}

// forwardAct is Forward followed by act (actReLU or actReLU6) in one pass
// over the data: it writes act(BN(x)) to y, which has x's shape, and leaves
// the layer's own output buffer alone; backwardAct is its gradient. The
// values are bit for bit those of the two layers run one after the other.
// x (N, ..., C) -> y (N, ..., C)
func (b *BatchNormalization) forwardAct(c *Context, x *tensor.Tensor, act actKind, y *tensor.Tensor) {
	b.pool = nil
	b.forward(c, x, act, y)
}

// forwardActPool is forwardAct followed by pool's Forward, in one pass
// over the data: per image, act(BN(x)) goes to a buffer that stays in the
// cache, and the window maxima and their cells go to pool's output and
// arg-max, as pool's Forward would write them (bit for bit); the
// activation is never stored whole. pool's windows must tile the image
// (ops.MaxPoolTiles) and its input shape be x's. backwardActPool is the
// gradient. It returns pool's output (owned by pool).
// x (N,H,W,C) -> out (N,OH,OW,C)
func (b *BatchNormalization) forwardActPool(c *Context, x *tensor.Tensor, act actKind, pool *MaxPooling2D) *tensor.Tensor {
	g := pool.geom.WithBatch(x.Shape[0])
	if len(x.Shape) != 4 || x.Shape[1] != g.H || x.Shape[2] != g.W || x.Shape[3] != g.C || !ops.MaxPoolTiles(g) {
		panic(fmt.Sprintf("BatchNormalization %q: fused max pooling %s on input %v", b.Name(), pool.Name(), x.Shape))
	}
	out := tensor.Ensure(&pool.out, g.N, g.OH, g.OW, g.C)
	if n := out.Size(); cap(pool.arg) < n {
		pool.arg = make([]int32, n)
	}
	pool.arg = pool.arg[:out.Size()]
	pool.x = nil // its input was never stored: its own Backward must not run
	b.pool = pool
	b.forward(c, x, act, nil)
	return out
}

// forward normalizes x into out and applies act (actLinear: none).
func (b *BatchNormalization) forward(c *Context, x *tensor.Tensor, act actKind, out *tensor.Tensor) {
	C := b.ch
	if x.Shape[len(x.Shape)-1] != C {
		panic(fmt.Sprintf("BatchNormalization %q: input shape %v, built for %d channels", b.Name(), x.Shape, C))
	}
	b.x = x
	st := &b.stats
	st.Plan(len(x.Data)/C, C)
	b.training = c.Training
	b.act, b.y = act, out
	b.betaFwd = append(b.betaFwd[:0], b.Beta.Value.Data...)
	b.lane = nil
	if c.Training {
		b.lane = c.lane
	}
	if st.Rows() == 0 {
		return
	}
	gamma := b.Gamma.Value.Data
	mm, mv := b.MovingMean.Value.Data, b.MovingVariance.Value.Data
	if c.Training {
		st.SetShift(x.Data[:C])
		kernels.ParallelFor(st.Chunks(), 1, b.statsFn)
		if b.lane == nil || !bnForwardSync(b.lane, st, gamma, b.Epsilon) {
			st.FromBatch(gamma, b.Epsilon)
		}
		st.UpdateMoving(mm, mv, b.Momentum, c.Step)
		if b.mean == nil {
			b.mean = make([]float32, C)
			b.variance = make([]float32, C)
		}
		for j := 0; j < C; j++ {
			b.mean[j] = float32(st.Mean[j])
			b.variance[j] = float32(st.Var[j])
		}
	} else {
		st.FromMoving(gamma, mm, mv, b.Epsilon)
	}
	if b.pool != nil {
		kernels.ParallelFor(x.Shape[0], 1, b.normPoolFn)
		return
	}
	kernels.ParallelFor(st.Rows(), max(1, 8192/C), b.normFn)
}

// normPoolImages writes, for images [lo, hi), pool's output and arg-max
// of act(BN(x)): each image normalized into this thread's buffer
// (kernels.NormAct), then its window maxima (ops.MaxPoolImage).
func (b *BatchNormalization) normPoolImages(lo, hi int) {
	g := b.pool.geom
	hw, C := g.H*g.W, b.ch
	per, outPer := hw*C, g.OH*g.OW*C
	buf := b.poolScratch.get(per)
	p := b.normParams(b.act)
	x, out, arg := b.x.Data, b.pool.out.Data, b.pool.arg
	for n := lo; n < hi; n++ {
		kernels.NormAct(x[n*per:(n+1)*per], buf, hw, C, p)
		ops.MaxPoolImage(g, buf, out[n*outPer:(n+1)*outPer], arg[n*outPer:(n+1)*outPer])
	}
	b.poolScratch.put(buf)
}

// statsChunks sets, for chunks [lo, hi), the per-channel sums of
// d = x - shift and d*d (kernels.BNStats.ChannelSumsChunks: the AVX-512
// pass or its Go loop, the same bits).
func (b *BatchNormalization) statsChunks(lo, hi int) {
	b.stats.ChannelSumsChunks(b.x.Data, lo, hi)
}

// normParams is the last Forward's normalization followed by act, for the
// kernels: y = act((x - center)*scale + beta).
func (b *BatchNormalization) normParams(act actKind) kernels.NormParams {
	return kernels.NormParams{Center: b.stats.Center, Scale: b.stats.Scale, Beta: b.betaFwd, Act: kernelAct(act)}
}

// kernelAct is the kernels' name of a fused activation.
func kernelAct(a actKind) kernels.Act {
	switch a {
	case actReLU:
		return kernels.ActReLU
	case actReLU6:
		return kernels.ActReLU6
	}
	return kernels.ActLinear
}

// normRows writes y = act((x - center)*scale + beta) for rows [lo, hi),
// the same expression and rounding as an unfused BN then activation
// (kernels.NormAct).
func (b *BatchNormalization) normRows(lo, hi int) {
	C := b.ch
	kernels.NormAct(b.x.Data[lo*C:hi*C], b.y.Data[lo*C:hi*C], hi-lo, C, b.normParams(b.act))
}

// Backward computes dgamma, dbeta and dx. After a training Forward it is
// the full batch-norm gradient (through the batch mean and variance):
//
//	dx = gamma/sigma * (dy - sum(dy)/M - xhat*sum(dy*xhat)/M)
//
// after an inference Forward it is the affine map's: dx = dy*gamma/sigma.
// In a data-parallel step with synchronized BatchNorm (SyncBatchNorm) the
// Forward's statistics and the two sums are those of the whole global
// batch, exchanged with the other blocks (docs/distributed.md,
// Synchronized BatchNorm; syncbn.go).
// dOut (N, ..., C) -> dx (N, ..., C)
func (b *BatchNormalization) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	return b.backward(dOut, actLinear)
}

// backwardAct is the gradient of forwardAct: given dOut, the gradient with
// respect to the activation's output, it computes what the activation's
// Backward then Backward would (bit for bit), masking dOut on the fly with
// the activation's output, recomputed from the input of forwardAct (which
// must be left unchanged, as Backward needs it anyway) with the statistics
// and beta that forwardAct used: the same bits as the output it wrote,
// without reading it.
// It must follow a forwardAct with the same act.
// dOut (N, ..., C) -> dx (N, ..., C)
func (b *BatchNormalization) backwardAct(dOut *tensor.Tensor, act actKind) []*tensor.Tensor {
	if act != b.act || act == actLinear || b.pool != nil {
		panic(fmt.Sprintf("BatchNormalization %q: fused Backward for activation %d after a Forward with %d", b.Name(), act, b.act))
	}
	return b.backward(dOut, act)
}

// backwardActPool is the gradient of forwardActPool: given dOut (N,OH,OW,C),
// the gradient with respect to pool's output, it computes what pool's,
// the activation's and this layer's Backward would, bit for bit. The
// gradient with respect to the activation (dOut routed to the cells that
// won their windows, zero elsewhere) is written into dx one image at a
// time and summed while it is in the cache (one pass over memory less
// than pooling's Backward then backwardAct), then overwritten in place by
// the input gradient. It must follow a forwardActPool with the same act
// and pool.
// dOut (N,OH,OW,C) -> dx (N,H,W,C)
func (b *BatchNormalization) backwardActPool(dOut *tensor.Tensor, act actKind, pool *MaxPooling2D) []*tensor.Tensor {
	if act != b.act || act == actLinear || pool != b.pool || pool == nil {
		panic(fmt.Sprintf("BatchNormalization %q: fused Backward with pooling after a Forward without", b.Name()))
	}
	g := pool.geom
	spatialCheckGrad(pool, dOut, b.x.Shape[0], g.OH, g.OW, g.C)
	return b.backward(dOut, act)
}

// backward computes the gradients for dOut masked by act (actLinear: not
// masked).
func (b *BatchNormalization) backward(dOut *tensor.Tensor, act actKind) []*tensor.Tensor {
	C := b.ch
	st := &b.stats
	dx := tensor.Ensure(&b.dx, b.x.Shape...)
	b.dxs[0] = dx
	dg, db := b.Gamma.Grad.Data, b.Beta.Grad.Data
	if st.Rows() == 0 {
		clear(dg)
		clear(db)
		return b.dxs[:]
	}
	b.dy = dOut.Data
	b.bact = act
	if b.pool != nil {
		kernels.ParallelFor(st.Chunks(), 1, b.gradPoolFn)
	} else {
		kernels.ParallelFor(st.Chunks(), 1, b.gradFn)
	}
	st.Grad(b.Gamma.Value.Data, b.training, dg, db)
	if b.training && b.lane != nil {
		bnBackwardSync(b.lane, st, b.Gamma.Value.Data)
	}
	if b.pool != nil {
		// gradPoolChunks left the activation's gradient in dx: the
		// input gradient overwrites it in place.
		b.dy = dx.Data
	}
	kernels.ParallelFor(st.Rows(), max(1, 8192/C), b.bwdFn)
	b.dy = nil
	return b.dxs[:]
}

// poolGrad writes to buf (H,W,C) the gradient with respect to the fused
// activation's output for image n: b.dy (pool's output gradient) routed to
// the cells recorded in pool's arg-max (ops.MaxPoolBackwardImage), the
// dIn of pool's Backward for that image.
func (b *BatchNormalization) poolGrad(n int, buf []float32) {
	g := b.pool.geom
	outPer := g.OH * g.OW * g.C
	ops.MaxPoolBackwardImage(g, b.dy[n*outPer:(n+1)*outPer], b.pool.arg[n*outPer:(n+1)*outPer], buf)
}

// gradPoolChunks is gradChunks after forwardActPool: for each chunk, the
// activation's gradient of the images its rows cross is rebuilt
// (poolGrad) into dx, which the input gradient then overwrites in place,
// and summed in row order while it is in the cache
// (kernels.ChannelGradSumsAdd after clearing): the additions of
// gradChunks on the stored gradient, in the same order. An image that
// two chunks share is rebuilt in a buffer by each and each copies its
// own rows.
func (b *BatchNormalization) gradPoolChunks(lo, hi int) {
	C := b.ch
	g := b.pool.geom
	hw := g.H * g.W
	x, dx := b.x.Data, b.dx.Data
	p := b.normParams(b.bact)
	var buf []float32
	for k := lo; k < hi; k++ {
		r0, r1 := b.stats.ChunkRows(k)
		s, q := b.stats.Sums(k)
		clear(s)
		clear(q)
		for n := r0 / hw; n*hw < r1; n++ {
			a, e := max(r0, n*hw), min(r1, (n+1)*hw)
			var dy []float32
			if a == n*hw && e == (n+1)*hw {
				dy = dx[a*C : e*C]
				b.poolGrad(n, dy)
			} else {
				if buf == nil {
					buf = b.poolScratch.get(hw * C)
				}
				b.poolGrad(n, buf)
				dy = dx[a*C : e*C]
				copy(dy, buf[(a-n*hw)*C:(e-n*hw)*C])
			}
			kernels.ChannelGradSumsAdd(x[a*C:e*C], dy, e-a, C, p, b.stats.Center64, s, q)
		}
	}
	if buf != nil {
		b.poolScratch.put(buf)
	}
}

// gradChunks sets, for chunks [lo, hi), the per-channel sums of dy and
// dy*(x - center), dy masked by the fused activation if any
// (kernels.ChannelGradSums).
func (b *BatchNormalization) gradChunks(lo, hi int) {
	C := b.ch
	x, dy := b.x.Data, b.dy
	p := b.normParams(b.bact)
	for k := lo; k < hi; k++ {
		r0, r1 := b.stats.ChunkRows(k)
		s, q := b.stats.Sums(k)
		kernels.ChannelGradSums(x[r0*C:r1*C], dy[r0*C:r1*C], r1-r0, C, p, b.stats.Center64, s, q)
	}
}

// backwardRows writes dx = k1*dy + k2*(x - center) + k3 for rows [lo, hi),
// dy masked by the fused activation if any (kernels.NormActGrad).
func (b *BatchNormalization) backwardRows(lo, hi int) {
	C := b.ch
	kernels.NormActGrad(b.x.Data[lo*C:hi*C], b.dy[lo*C:hi*C], b.dx.Data[lo*C:hi*C], hi-lo, C, b.normParams(b.bact), b.stats.K1, b.stats.K2, b.stats.K3)
}
