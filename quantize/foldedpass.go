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
// kernels.ParallelFor does not allocate. Every pass computes bit for bit
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
// for a slice with no number, so that chunks combine with min and max.
func minMaxRaw(x []float32) (lo, hi float32) {
	lo, hi = inf32, -inf32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

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
