package quantize

import (
	"math"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/nn"
)

// passChunks is the fixed number of row chunks of foldPasses' min/max
// reduction (min and max are exact, so the split never changes the
// result; a fixed count keeps the partial results in fixed slots).
const passChunks = 8

// passGrain is the number of elements below which an element-wise pass is
// not split across threads.
const passGrain = 1 << 14

// rangeObserver is an output quantizer whose per-tensor range FoldedConvBN
// can compute in its own fused pass (MovingAverage and AllValues, per
// tensor): Forward is then observe(min, max of x) if needsRange, refresh,
// and fake quant with tensorFQ.
type rangeObserver interface {
	Quantizer
	// needsRange reports whether Forward would record x's range.
	needsRange(c *nn.Context) bool
	// observe records a batch's min and max as Forward does.
	observe(lo, hi float32)
	// refresh recomputes the fake quant constants from the state.
	refresh()
	// tensorFQ returns the per-tensor constants of the last refresh
	// (false for a per-channel quantizer).
	tensorFQ() (fq, bool)
}

// inf32 is float32 +Inf.
var inf32 = float32(math.Inf(1))

// Activation kinds of foldPasses.
const (
	actNone = iota
	actReLU
	actReLU6
)

// foldPasses holds FoldedConvBN's fused element-wise passes over the big
// activation tensors, with their range functions bound once so that
// kernels.ParallelFor does not allocate: the path for output quantizers
// that foldChain does not handle (per-channel, LSQ, fixed), beside
// nn.BatchNormalization's own passes. Every pass computes bit for bit
// what the unfused loops (FoldedConvBN.activate, the quantizer's Forward
// and Backward, the activation mask) compute:
//
//	activation: a = act(y + b) with min/max of a in the same pass
//	output:     out = fakequant(a)
//	backward:   dA = dOut where a is inside the quantizer's range and the
//	            activation passes the gradient, else 0
//	unfold:     u = z*invSf + bias (before the batch normalization)
type foldPasses struct {
	act    int
	c      int
	p      fq
	y, b   []float32 // activation input and per-channel bias (may be nil)
	a, out []float32
	dOut   []float32
	dA     []float32
	z, u   []float32
	inv    []float32
	bias   []float32
	rows   int
	needMM bool
	los    [passChunks]float32
	his    [passChunks]float32

	actFn, applyFn, maskFn, unfoldFn func(lo, hi int)
}

// bind creates the range functions (once).
func (f *foldPasses) bind() {
	if f.actFn == nil {
		f.actFn = f.actChunks
		f.applyFn = f.applyRange
		f.maskFn = f.maskRange
		f.unfoldFn = f.unfoldRows
	}
}

// activate writes a = act(y + b) (b per channel, may be nil) and, if
// needMM, returns the min and max of a (0, 0 if empty; NaNs ignored, as
// minMax).
// y, a (rows, C)
func (f *foldPasses) activate(y, b, a []float32, C int, needMM bool) (lo, hi float32) {
	f.bind()
	f.y, f.b, f.a, f.c, f.needMM = y, b, a, C, needMM
	f.rows = len(y) / C
	if len(y) < passGrain {
		f.actChunks(0, passChunks)
	} else {
		kernels.ParallelFor(passChunks, 1, f.actFn)
	}
	f.y, f.b, f.a = nil, nil, nil
	lo, hi = f.los[0], f.his[0]
	for k := 1; k < passChunks; k++ {
		lo, hi = min(lo, f.los[k]), max(hi, f.his[k])
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// actChunks runs the activation pass over row chunks [k0, k1), taking the
// min and max of each row block while it is in cache.
func (f *foldPasses) actChunks(k0, k1 int) {
	C := f.c
	block := max(1, 4096/C) * C
	for k := k0; k < k1; k++ {
		r0, r1 := k*f.rows/passChunks, (k+1)*f.rows/passChunks
		y, a := f.y[r0*C:r1*C], f.a[r0*C:r1*C]
		a = a[:len(y)]
		lo, hi := inf32, -inf32
		for base := 0; base < len(y); base += block {
			yb, ab := y[base:min(base+block, len(y))], a[base:min(base+block, len(y))]
			if f.b != nil {
				for rb := 0; rb < len(yb); rb += C {
					f.actRow(yb[rb:rb+C], f.b, ab[rb:rb+C])
				}
			} else {
				f.actRow(yb, nil, ab)
			}
			if f.needMM {
				l, h := minMaxRaw(ab)
				lo, hi = min(lo, l), max(hi, h)
			}
		}
		f.los[k], f.his[k] = lo, hi
	}
}

// actRow writes a = act(y + b) over one run (b nil, or as long as y).
// min(max(v, lo), hi) with lo = -Inf or hi = +Inf is v or max(v, lo), so
// the specialised loops equal activate's general expression bit for bit.
func (f *foldPasses) actRow(y, b, a []float32) {
	a = a[:len(y)]
	switch {
	case b != nil:
		b = b[:len(y)]
		switch f.act {
		case actReLU:
			for j, v := range y {
				a[j] = max(v+b[j], 0)
			}
		case actReLU6:
			for j, v := range y {
				a[j] = min(max(v+b[j], 0), 6)
			}
		default:
			for j, v := range y {
				a[j] = v + b[j]
			}
		}
	default:
		switch f.act {
		case actReLU:
			for j, v := range y {
				a[j] = max(v, 0)
			}
		case actReLU6:
			for j, v := range y {
				a[j] = min(max(v, 0), 6)
			}
		default:
			copy(a, y)
		}
	}
}

// minMaxRaw is minMax without the empty and all-NaN fix-ups: +Inf, -Inf
// for a slice with no number, so that chunks combine with min and max
// (kernels.MinMax).
func minMaxRaw(x []float32) (lo, hi float32) { return kernels.MinMax(x) }

// apply writes out = fakequant(a) with p, in parallel for large tensors.
func (f *foldPasses) apply(p fq, a, out []float32) {
	f.bind()
	f.p, f.a, f.out = p, a, out
	kernels.ParallelFor(len(a), passGrain, f.applyFn)
	f.a, f.out = nil, nil
}

// applyRange fake-quantizes elements [lo, hi).
func (f *foldPasses) applyRange(lo, hi int) { f.p.apply(f.a[lo:hi], f.out[lo:hi]) }

// mask writes the gradient through the output fake quant (straight
// through inside p's range; p nil: no quantizer) and the activation:
// dA = dOut where a is inside the range and (ReLU) a > 0, (ReLU6) a > 0
// and a < 6; else 0.
func (f *foldPasses) mask(p *fq, a, dOut, dA []float32) {
	f.bind()
	if p != nil {
		f.p = *p
	} else {
		f.p = fq{inv: 1, lo: -inf32, hi: inf32}
	}
	f.a, f.dOut, f.dA = a, dOut, dA
	kernels.ParallelFor(len(a), passGrain, f.maskFn)
	f.a, f.dOut, f.dA = nil, nil, nil
}

// maskRange masks elements [lo, hi). The gradient is moved as bits and
// zeroed by separate conditions, which the compiler turns into conditional
// moves (the ReLU mask is unpredictable for a branch).
func (f *foldPasses) maskRange(i0, i1 int) {
	a, dy, dx := f.a[i0:i1], f.dOut[i0:i1], f.dA[i0:i1]
	dy = dy[:len(a)]
	dx = dx[:len(a)]
	inv, lo, hi := f.p.inv, f.p.lo, f.p.hi
	switch f.act {
	case actReLU:
		for i, v := range a {
			t := v * inv
			g := math.Float32bits(dy[i])
			if !(v > 0) {
				g = 0
			}
			if t < lo {
				g = 0
			}
			if t > hi {
				g = 0
			}
			dx[i] = math.Float32frombits(g)
		}
	case actReLU6:
		for i, v := range a {
			t := v * inv
			g := math.Float32bits(dy[i])
			if !(v > 0) {
				g = 0
			}
			if !(v < 6) {
				g = 0
			}
			if t < lo {
				g = 0
			}
			if t > hi {
				g = 0
			}
			dx[i] = math.Float32frombits(g)
		}
	default:
		for i, v := range a {
			t := v * inv
			g := math.Float32bits(dy[i])
			if t < lo {
				g = 0
			}
			if t > hi {
				g = 0
			}
			dx[i] = math.Float32frombits(g)
		}
	}
}

// unfold writes u = z*inv + bias per channel (bias may be nil), in
// parallel over rows.
// z, u (rows, C)
func (f *foldPasses) unfold(z, inv, bias, u []float32, C int) {
	f.bind()
	f.z, f.inv, f.bias, f.u, f.c = z, inv, bias, u, C
	kernels.ParallelFor(len(z)/C, max(1, passGrain/C), f.unfoldFn)
	f.z, f.u = nil, nil
}

// unfoldRows computes rows [r0, r1) of unfold.
func (f *foldPasses) unfoldRows(r0, r1 int) {
	C := f.c
	z, u := f.z[r0*C:r1*C], f.u[r0*C:r1*C]
	u = u[:len(z)]
	for base := 0; base < len(z); base += C {
		zr, ur := z[base:base+C], u[base:base+C]
		ur = ur[:len(zr)]
		inv := f.inv[:len(zr)]
		if f.bias != nil {
			b := f.bias[:len(zr)]
			for j, v := range zr {
				ur[j] = v*inv[j] + b[j]
			}
		} else {
			for j, v := range zr {
				ur[j] = v * inv[j]
			}
		}
	}
}

// foldChain is FoldedConvBN's fully fused path (kernels.FoldParams) for
// a per-tensor output quantizer or none: the unfolding, the batch
// normalization (its statistics, moving averages and gradient
// coefficients computed by kernels.BNStats, nn.BatchNormalization's own
// arithmetic), the activation and the output fake quant are recomputed
// from the inner convolution's output z in every pass, so that a training
// step reads z twice forward (statistics; output) and twice backward
// (gradient sums; input gradient) and writes only the output and the
// gradient. The unfused path (nn.BatchNormalization's Forward and Backward
// on the unfolded tensor, then foldPasses) is the specification: tests pin
// this one to it bit for bit.
//
// After the BN freeze (and in inference) the same kernels run with the
// identity normalization (center 0, scale 1, beta -0: (u-0)*1 + -0 is u
// for every u) and u = z*1 + biasFold, which is act(z + biasFold).
type foldChain struct {
	p      kernels.FoldParams
	c      int
	frozen bool // the last Forward used the moving statistics

	z, dy, out, dz []float32

	// st plans the reductions over z's (rows, C) and holds their partial
	// sums, the batch normalization (center, scale) and the gradient's
	// coefficients.
	st                   kernels.BNStats
	betaFwd              []float32
	negZero, ones, zeros []float32 // -0 (no bias), 1 and 0 per channel
	los, his             []float32 // chunks x C extremes of u
	useK                 bool      // FoldGrad with K1..K3 (batch statistics)
	fallbacks            int       // ranges computed the unfused way (for tests)
	forceFallback        bool      // compute every range the unfused way (for tests)

	statsFn, fwdFn, gsFn, gradFn func(lo, hi int)
}

// setup sizes the buffers for C channels and rows rows.
func (f *foldChain) setup(C, rows int) {
	if f.c != C {
		f.c = C
		f.betaFwd = make([]float32, C)
		f.negZero = make([]float32, C)
		f.ones = make([]float32, C)
		f.zeros = make([]float32, C)
		for j := range f.negZero {
			f.negZero[j] = float32(math.Copysign(0, -1))
			f.ones[j] = 1
		}
	}
	if f.statsFn == nil {
		f.statsFn = f.statsChunks
		f.fwdFn = f.forwardRows
		f.gsFn = f.gradSumChunks
		f.gradFn = f.gradChunks
	}
	// The plan of nn.BatchNormalization (kernels.BNStats; chanSums' chunk
	// count is the same function of the shape), so that partial sums add
	// in the same order.
	f.st.Plan(rows, C)
	if n := f.st.Chunks() * C; cap(f.los) < n {
		f.los = make([]float32, n)
		f.his = make([]float32, n)
	} else {
		f.los, f.his = f.los[:n], f.his[:n]
	}
}

// statsChunks runs kernels.FoldStats over chunks [lo, hi).
func (f *foldChain) statsChunks(lo, hi int) {
	C := f.c
	for k := lo; k < hi; k++ {
		r0, r1 := f.st.ChunkRows(k)
		s, q := f.st.Sums(k)
		kernels.FoldStats(f.z[r0*C:r1*C], r1-r0, C, f.p, f.st.Shift, s, q, f.los[k*C:(k+1)*C], f.his[k*C:(k+1)*C])
	}
}

// forwardRows runs kernels.FoldForward over rows [lo, hi).
func (f *foldChain) forwardRows(lo, hi int) {
	C := f.c
	kernels.FoldForward(f.z[lo*C:hi*C], f.out[lo*C:hi*C], hi-lo, C, f.p)
}

// gradSumChunks runs kernels.FoldGradSums over chunks [lo, hi).
func (f *foldChain) gradSumChunks(lo, hi int) {
	C := f.c
	for k := lo; k < hi; k++ {
		r0, r1 := f.st.ChunkRows(k)
		s, q := f.st.Sums(k)
		kernels.FoldGradSums(f.z[r0*C:r1*C], f.dy[r0*C:r1*C], r1-r0, C, f.p, f.st.Center64, s, q)
	}
}

// gradChunks runs kernels.FoldGrad over chunks [lo, hi).
func (f *foldChain) gradChunks(lo, hi int) {
	C := f.c
	var k1, k2, k3 []float32
	if f.useK {
		k1, k2, k3 = f.st.K1, f.st.K2, f.st.K3
	}
	for k := lo; k < hi; k++ {
		r0, r1 := f.st.ChunkRows(k)
		s1, s2 := f.st.Sums(k)
		kernels.FoldGrad(f.z[r0*C:r1*C], f.dy[r0*C:r1*C], f.dz[r0*C:r1*C], r1-r0, C, f.p, k1, k2, k3, s1, s2)
	}
}

// batchStats runs the statistics pass over z with u = z*inv + bias (bias
// nil: none) and computes the batch normalization's statistics as
// nn.BatchNormalization's training Forward does, updating its moving
// statistics; it leaves p set up for the forward pass (without the fake
// quant).
func (f *foldChain) batchStats(bn *nn.BatchNormalization, step int, z, inv, bias []float32) {
	f.frozen = false
	f.p = kernels.FoldParams{Inv: inv, Bias: bias, Act: f.p.Act}
	if bias == nil {
		f.p.Bias = f.negZero
	}
	shift := f.st.Shift
	for j := range shift { // the shift: u's first row
		shift[j] = float64(z[j]*inv[j] + f.p.Bias[j])
	}
	f.z = z
	kernels.ParallelFor(f.st.Chunks(), 1, f.statsFn)
	f.st.FromBatch(bn.Gamma.Value.Data, bn.Epsilon)
	f.st.UpdateMoving(bn.MovingMean.Value.Data, bn.MovingVariance.Value.Data, bn.Momentum, step)
	copy(f.betaFwd, bn.Beta.Value.Data)
	f.p.Center, f.p.Scale, f.p.Beta = f.st.Center, f.st.Scale, f.betaFwd
}

// frozenParams sets p up for the moving statistics: u = z + biasFold and
// the identity normalization.
func (f *foldChain) frozenParams(z, biasFold []float32) {
	f.frozen = true
	f.z = z
	f.p = kernels.FoldParams{Inv: f.ones, Bias: biasFold, Center: f.zeros, Scale: f.ones, Beta: f.negZero, Act: f.p.Act}
}

// uRange runs the statistics pass for the extremes of u only (after
// frozenParams).
func (f *foldChain) uRange() {
	clear(f.st.Shift)
	kernels.ParallelFor(f.st.Chunks(), 1, f.statsFn)
}

// actRange returns the min and max of the activation a over the tensor
// (0, 0 if it holds no number), from the extremes of u that the
// statistics pass recorded: a is a monotone function of u in each channel
// (each of u-center, *scale, +beta and the activation rounds monotonically;
// decreasing if scale < 0), so a channel's extremes are the images of u's.
// ok is false where that does not give foldPasses.activate's result bit
// for bit: a non-finite or zero scale, a non-finite center or beta, or
// without activation a zero extreme (its sign depends on the order
// activate meets +0 and -0).
func (f *foldChain) actRange() (lo, hi float32, ok bool) {
	C := f.c
	lo, hi = inf32, -inf32
	for j := 0; j < C; j++ {
		ul, uh := inf32, -inf32
		for k := 0; k < f.st.Chunks(); k++ {
			ul, uh = min(ul, f.los[k*C+j]), max(uh, f.his[k*C+j])
		}
		if ul > uh {
			continue // no number in this channel
		}
		c, s, b := f.p.Center[j], f.p.Scale[j], f.p.Beta[j]
		if !finite32(c) || !finite32(s) || !finite32(b) || s == 0 {
			return 0, 0, false
		}
		a1, a2 := f.act1(ul, c, s, b), f.act1(uh, c, s, b)
		if s < 0 {
			a1, a2 = a2, a1
		}
		lo, hi = min(lo, a1), max(hi, a2)
	}
	if lo > hi {
		return 0, 0, true
	}
	if f.p.Act == kernels.ActLinear && (lo == 0 || hi == 0) {
		return 0, 0, false
	}
	return lo, hi, true
}

// act1 is the activation's value at u: kernels.NormAct's expression.
func (f *foldChain) act1(u, c, s, b float32) float32 {
	t := (u-c)*s + b
	switch f.p.Act {
	case kernels.ActReLU:
		return max(t, 0)
	case kernels.ActReLU6:
		return min(max(t, 0), 6)
	}
	return t
}

// finite32 reports whether v is neither infinite nor NaN.
func finite32(v float32) bool { return v-v == 0 }

// forward writes out from z with p (the fake quant set or not), in
// parallel over rows.
func (f *foldChain) forward(out []float32) {
	f.out = out
	kernels.ParallelFor(f.st.Rows(), max(1, passGrain/f.c), f.fwdFn)
	f.out = nil
}

// backwardBatch computes, for dy (the gradient of the output), the batch
// normalization's parameter gradients (set into bn's Gamma and Beta
// gradients as its Backward does) and dz = the gradient with respect to
// z, with s1 and s2 the sums over rows of du and du*z per channel (du the
// gradient with respect to u), as FoldedConvBN's unfused Backward computes
// them with nn.BatchNormalization.Backward and chanSums.
func (f *foldChain) backwardBatch(bn *nn.BatchNormalization, dy, dz []float32, s1, s2 []float64) {
	f.dy, f.dz = dy, dz
	kernels.ParallelFor(f.st.Chunks(), 1, f.gsFn)
	f.st.Grad(bn.Gamma.Value.Data, true, bn.Gamma.Grad.Data, bn.Beta.Grad.Data)
	f.useK = true
	kernels.ParallelFor(f.st.Chunks(), 1, f.gradFn)
	f.st.SumParts(s1, s2)
	f.dy, f.dz = nil, nil
}

// backwardFrozen writes dA, dy masked by the output fake quant and the
// activation, and s1, its sum over rows per channel.
func (f *foldChain) backwardFrozen(dy, dA []float32, s1 []float64) {
	f.dy, f.dz = dy, dA
	f.useK = false
	kernels.ParallelFor(f.st.Chunks(), 1, f.gradFn)
	f.st.SumParts(s1, nil)
	f.dy, f.dz = nil, nil
}
