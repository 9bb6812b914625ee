package nn

import (
	"sync/atomic"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/workers"
	"github.com/goqat/goqat/tensor"
)

// The float inference path (docs/DESIGN.md, Runtime and kernels): a plan
// that Forward runs instead of the layers one by one when the context is
// not training and every layer of the model is a built-in type (or a
// Composite whose inner model has a plan, run as one op). It
//
//   - fuses each Conv2D or Dense with the BatchNormalization, ReLU or ReLU6
//     and residual Add (and the ReLU after it) that alone read its output,
//     into one pass per block of rows that stays in the cache (im2col,
//     product with the weights, bias, normalization, activation,
//     residual); a DepthwiseConv2D with its BatchNormalization and
//     activation (kernels.DepthwiseRows); a ZeroPadding2D into the
//     convolution that alone reads it (no padded copy);
//   - multiplies a 1x1 stride-1 convolution's input as it is (no im2col),
//     and reads the weights of every product where they are, every call
//     (kernels.PackedB: in place, or packed once per call and shared by
//     the threads), so that it always computes with the current weights;
//   - plans its buffers once, reusing them between layers whose outputs
//     are no longer read, and allocates nothing per call once they have
//     the batch's size;
//   - splits a large batch across threads as a whole (each thread runs
//     every op on its share, one hand-off per call) and a small one inside
//     each op, in pieces that the threads claim in turn (dynFor: a thread
//     that a busy machine slows takes fewer), and computes a chunk of
//     samples at a time (chunkFor).
//
// Its values are those of the layers run one by one, bit for bit: the
// kernels are the same (Sgemm's tiles and k chunks, the batch-norm passes,
// the depthwise loop's roundings), in the same order. The exceptions, all
// within float rounding: a product of fewer rows than a tile in a chunk of
// the layers' Conv2D (images of fewer output pixels than a tile, or
// chunks of one image) uses the row kernel there and the tile kernel here;
// and the padding fused into a depthwise convolution skips the padded taps
// instead of adding zero products, which can change the sign of an exact
// zero. A Backward after an inference Forward first runs the layers' own
// Forward on the same inputs (the plan keeps none of their state).

// inferSplitMin is the fewest samples per thread from which the plan runs
// a batch split across threads (each thread every op on its share) rather
// than splitting every op: one hand-off per call instead of several per op,
// and each thread's activations stay in its own cache. A variable so that
// tests can force either.
var inferSplitMin = 4

// inferOp is one op of an inference plan.
type inferOp interface {
	// prepare readies the op for a call on n samples (the normalization
	// from the moving statistics, the weights' preparation) and returns
	// its number of packing parts.
	prepare(p *inferPlan, n int) int
	// pack packs part i of the op's weights.
	pack(i int)
	// run computes the op on the current chunk of share sh, on the
	// calling goroutine, with th's scratch.
	run(sh *inferShare, th *inferThread)
	// runPar computes the op on the current chunk of share sh (of the
	// whole batch), splitting its work across threads.
	runPar(p *inferPlan, sh *inferShare)
	// serial reports whether run can compute a share of the batch (false
	// for an op that runs a layer's own Forward, whose output lives in the
	// layer: the plan then runs the whole batch at once).
	serial() bool
	// slots returns the value slots the op reads and the one it writes.
	slots() (reads []int, write int)
}

// opBase gives an op no packing and a serial run.
type opBase struct{}

func (opBase) prepare(*inferPlan, int) int { return 0 }
func (opBase) pack(int)                    {}
func (opBase) serial() bool                { return true }

// inferThread is one thread's scratch: an im2col block, max-pool winners.
type inferThread struct {
	col []float32
	arg []int32
}

// colBuf returns n floats of the thread's im2col buffer.
func (t *inferThread) colBuf(n int) []float32 {
	if cap(t.col) < n {
		t.col = make([]float32, n)
	}
	return t.col[:n]
}

// argBuf returns n int32s of the thread's max-pool scratch.
func (t *inferThread) argBuf(n int) []int32 {
	if cap(t.arg) < n {
		t.arg = make([]int32, n)
	}
	return t.arg[:n]
}

// inferShare is what one thread computes of a call (all of it when the ops
// split their own work): its buffers, sized for a chunk of samples, and
// its current chunk [lo, hi).
type inferShare struct {
	plan   *inferPlan
	lo, hi int                // the chunk of samples being computed
	in     []*tensor.Tensor   // the call's inputs
	arena  [][]float32        // the share's buffers, by buffer number
	tens   []*tensor.Tensor   // one tensor per value slot, reused
	vals   []*tensor.Tensor   // the tensor of each slot in this call
	c      *Context           // the Forward's context (layer-backed ops)
	ins    [][]*tensor.Tensor // per op, the argument slice of a layer-backed op
}

// n is the share's sample count.
func (sh *inferShare) n() int { return sh.hi - sh.lo }

// data returns slot s's values for the share.
func (sh *inferShare) data(s int) []float32 { return sh.vals[s].Data }

// inferPlan is a model's inference plan (see the top of this file).
type inferPlan struct {
	m     *Model
	ops   []inferOp
	split bool // every op can compute a share of the batch

	base    int            // number of model inputs (slot of the first layer)
	shapes  []tensor.Shape // per-sample shape of every slot
	canon   []int          // slot whose values a slot holds (itself, or an alias's source)
	owner   []int          // canonical slot -> buffer number, -1 input, -2 layer-owned, -3 output buffer
	bufSize []int          // per-sample floats of each buffer
	outBuf  [][]float32    // per canonical output slot (nil for others): whole-batch buffer
	aliases [][]int        // per canonical slot, the other slots holding its values

	shares  []*inferShare
	threads []*inferThread
	outs    []*tensor.Tensor
	outTens []*tensor.Tensor

	// weightFloats sums the ops' weights, actFloats is the largest op's
	// values read and written per sample (chunkFor).
	weightFloats, actFloats int

	runner     workers.Runner
	dyn        dynJob // the running dynFor
	dynFn      func(part, lo, hi int)
	shareFn    func(part, lo, hi int)
	packFn     func(part, lo, hi int)
	packs      [][2]int // (op, part) of this call's packing
	n          int      // batch of this call
	ins        []*tensor.Tensor
	per, chunk int // samples per share and per chunk in this call
}

// Owner codes of inferPlan.owner.
const (
	ownInput = -1
	ownLayer = -2
	ownOut   = -3
	ownNone  = -4 // never computed (fused into an op)
)

// inferState is the model's inference plan, built at the first inference
// Forward (nil if the model cannot use one), and what a Backward after an
// inference Forward needs to replay the layers' Forward.
type inferState struct {
	plan   *inferPlan
	tried  bool
	replay bool             // the last Forward ran the plan
	ctx    *Context         // its context
	ins    []*tensor.Tensor // its inputs
}

// inferPlanOf returns the model's inference plan, building it the first
// time; nil if some layer is not a built-in type.
func (m *Model) inferPlanOf() *inferPlan {
	if !m.infer.tried {
		m.infer.tried = true
		m.infer.plan = buildInferPlan(m)
	}
	return m.infer.plan
}

// forward runs the plan on the inputs (checked by Forward) and returns the
// outputs, owned by the plan and valid until the next call. A large batch
// is split into one share per thread; each share (or the whole batch) is
// computed a chunk of samples at a time (see chunkFor), every op on one
// chunk before the next, so that a chunk's activations stay in the caches.
func (p *inferPlan) forward(c *Context, in []*tensor.Tensor) []*tensor.Tensor {
	n := in[0].Shape[0]
	p.n = n
	t := kernels.Threads()
	for len(p.threads) < max(t, 1) {
		p.threads = append(p.threads, &inferThread{})
	}
	nShares, per := 1, n
	if p.split && t >= 2 && n >= inferSplitMin*t {
		per = (n + t - 1) / t
		nShares = (n + per - 1) / per
	}
	p.per, p.chunk = per, p.chunkFor(per)
	p.setup(c, in, nShares)

	// Pack every op's weights for this call (fresh from the parameters)
	// across threads.
	p.packs = p.packs[:0]
	for i, op := range p.ops {
		parts := op.prepare(p, n)
		for j := 0; j < parts; j++ {
			p.packs = append(p.packs, [2]int{i, j})
		}
	}
	p.runner.Threads = 0
	p.runner.For(len(p.packs), 1, p.packFn)

	if nShares > 1 {
		p.runner.For(nShares, 1, p.shareFn)
	} else {
		sh := p.shares[0]
		for lo := 0; lo < n; lo += p.chunk {
			sh.window(lo, min(n, lo+p.chunk))
			for _, op := range p.ops {
				op.runPar(p, sh)
			}
		}
	}
	for i, s := range p.m.outSlots {
		o := p.outTens[i]
		o.Shape[0] = n
		cs := p.canon[s]
		size := p.shapes[s].Size()
		switch p.owner[cs] {
		case ownInput:
			o.Data = in[cs].Data[:n*size]
		case ownOut:
			o.Data = p.outBuf[cs][:n*size]
		default: // layer-owned: one chunk, no split
			o.Data = p.shares[0].vals[s].Data
		}
		p.outs[i] = o
	}
	return p.outs
}

// chunkFor returns how many samples of a share of limit samples the plan
// computes at a time: each chunk reads every weight once, so a chunk of
// several samples spares weight traffic, while a small chunk keeps the
// activations in the caches. It takes as many samples as the largest op's
// activations fit in inferChunkFloats, or about weights/(4 x those
// activations) if more, between 1 and limit (at 224x224: MobileNetV2 1,
// ResNet-50 3; mnist-cnn 4); the whole share when an op is a layer's own
// Forward (whose output lives until its next call). The results do not
// depend on it: samples are computed independently, and the products'
// kernels are chosen from the whole batch (gemmOp.prepare).
func (p *inferPlan) chunkFor(limit int) int {
	if !p.split {
		return limit
	}
	act := max(1, p.actFloats)
	c := max(1, min(limit, max(inferChunkFloats/act, p.weightFloats/(4*act))))
	if inferMaxChunk > 0 {
		c = min(c, inferMaxChunk)
	}
	return c
}

// inferChunkFloats is the activations (values read and written by one op)
// a chunk keeps within: 256K floats, a core's 1 MB L2 cache.
const inferChunkFloats = 256 << 10

// inferMaxChunk, if positive, caps chunkFor: tests force small chunks.
var inferMaxChunk = 0

// dynJob is a dynFor call: its function, range, piece size and the next
// unclaimed unit.
type dynJob struct {
	fn      func(part, lo, hi int)
	n, step int
	next    atomic.Int64
}

// dynFor runs fn over [0, n) in pieces of step units (the last maybe
// fewer) that up to Parts(n, grain) threads (so that each has grain units
// or more to do) claim in turn, each with its part number (its scratch,
// p.threads[part]); it returns when all are done. Each piece is computed as it would be alone, so the values do not
// depend on which thread computes which piece; the claims balance the
// threads when one of them is slowed (a shared machine) or the pieces do
// not divide evenly among them.
func (p *inferPlan) dynFor(n, grain, step int, fn func(part, lo, hi int)) {
	step = max(1, step)
	parts := min(p.runner.Parts(n, grain), (n+step-1)/step)
	if parts <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	d := &p.dyn
	d.fn, d.n, d.step = fn, n, step
	d.next.Store(0)
	p.runner.For(parts, 1, p.dynFn)
	d.fn = nil
}

// dynPart is one thread of the running dynFor: it claims and computes
// pieces until none is left.
func (p *inferPlan) dynPart(part, _, _ int) {
	d := &p.dyn
	for {
		lo := int(d.next.Add(int64(d.step))) - d.step
		if lo >= d.n {
			return
		}
		d.fn(part, lo, min(d.n, lo+d.step))
	}
}

// dynStep is the piece size for n units split across the threads, at
// least grain units: about a third of a thread's even share, so that the
// claims can balance the threads.
func dynStep(n, grain int) int {
	return max(grain, (n+3*kernels.Threads()-1)/(3*kernels.Threads()))
}

// packParts runs packing jobs [lo, hi).
func (p *inferPlan) packParts(_, lo, hi int) {
	for _, j := range p.packs[lo:hi] {
		p.ops[j[0]].pack(j[1])
	}
}

// runShares runs every op on shares [lo, hi), a chunk at a time, each on
// this goroutine (part numbers the thread's scratch).
func (p *inferPlan) runShares(part, lo, hi int) {
	th := p.threads[part]
	for j, sh := range p.shares[lo:hi] {
		s0 := (lo + j) * p.per
		s1 := min(p.n, s0+p.per)
		for c0 := s0; c0 < s1; c0 += p.chunk {
			sh.window(c0, min(s1, c0+p.chunk))
			for _, op := range p.ops {
				op.run(sh, th)
			}
		}
	}
}

// setup sizes the output buffers for the call's n samples and the nShares
// shares' buffers for a chunk, and gives the shares the call's context and
// inputs.
func (p *inferPlan) setup(c *Context, in []*tensor.Tensor, nShares int) {
	n := p.n
	for cs, b := range p.outBuf {
		if p.owner[cs] != ownOut {
			continue
		}
		if size := n * p.shapes[cs].Size(); cap(b) < size {
			p.outBuf[cs] = make([]float32, size)
		}
	}
	for len(p.shares) < nShares {
		p.shares = append(p.shares, p.newShare())
	}
	p.ins = append(p.ins[:0], in...) // in itself must not escape (Forward's variadic slice)
	for _, sh := range p.shares[:nShares] {
		sh.c, sh.in = c, p.ins
		for b, size := range p.bufSize {
			if cap(sh.arena[b]) < p.chunk*size {
				sh.arena[b] = make([]float32, p.chunk*size)
			}
			sh.arena[b] = sh.arena[b][:cap(sh.arena[b])]
		}
	}
}

// window points the share at samples [lo, hi) of the call: every slot's
// tensor at its values, the inputs' and output buffers' windows and the
// share's buffers.
func (sh *inferShare) window(lo, hi int) {
	p := sh.plan
	sh.lo, sh.hi = lo, hi
	k := hi - lo
	for s, t := range sh.tens {
		size := p.shapes[s].Size()
		cs := p.canon[s]
		t.Shape[0] = k
		switch o := p.owner[cs]; {
		case o == ownInput:
			t.Data = sh.in[cs].Data[lo*size : hi*size]
		case o == ownOut:
			t.Data = p.outBuf[cs][lo*size : hi*size]
		case o >= 0:
			t.Data = sh.arena[o][:k*size]
		default:
			t.Data = nil // layer-owned: set when its op runs
		}
		sh.vals[s] = t
	}
}

// newShare returns a share with a tensor per slot.
func (p *inferPlan) newShare() *inferShare {
	sh := &inferShare{
		plan:  p,
		arena: make([][]float32, len(p.bufSize)),
		tens:  make([]*tensor.Tensor, len(p.shapes)),
		vals:  make([]*tensor.Tensor, len(p.shapes)),
		ins:   make([][]*tensor.Tensor, len(p.ops)),
	}
	for s, shape := range p.shapes {
		sh.tens[s] = &tensor.Tensor{Shape: append(tensor.Shape{0}, shape...)}
	}
	for i, op := range p.ops {
		reads, _ := op.slots()
		sh.ins[i] = make([]*tensor.Tensor, len(reads))
	}
	return sh
}
