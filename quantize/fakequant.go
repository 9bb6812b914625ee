package quantize

import (
	"math"

	"github.com/goqat/goqat/qmath"

	"github.com/goqat/goqat/internal/kernels"
)

// fq holds the precomputed constants of fake quantization with one scale
// and zero point (those of a qmath.Grid, with the training passes as
// methods): values are mapped to t = clamp(x*inv, lo, hi), rounded
// half to even, and multiplied back by scale. lo = qmin-zp and hi = qmax-zp
// are integers, so clamping before or after rounding is the same.
type fq struct {
	scale, inv, lo, hi float32
}

// newFQ precomputes the constants for a scale, zero point and integer range
// (qmath.NewGrid).
func newFQ(scale float32, zp, qmin, qmax int32) fq {
	g := qmath.NewGrid(scale, zp, qmin, qmax)
	return fq{scale: g.Scale, inv: g.Inv, lo: g.Lo, hi: g.Hi}
}

// round returns round_half_even(clamp(x*inv, lo, hi)) (q - zp as a float),
// qmath.Grid.Round.
func (p fq) round(x float32) float32 {
	return qmath.Grid{Scale: p.scale, Inv: p.inv, Lo: p.lo, Hi: p.hi}.Round(x)
}

// apply fake-quantizes x into y (which may alias x): the tight loop of every
// quantizer, y = ((clamp(x*inv, lo, hi) + qmath.RoundMagic) - qmath.RoundMagic) * scale
// (kernels.FakeQuant: AVX-512 or its Go loop, the same bits).
func (p fq) apply(x, y []float32) { kernels.FakeQuant(x, y, p.scale, p.inv, p.lo, p.hi) }

// ste writes the straight-through gradient dx = dy where x lies inside the
// quantization range [lo*scale, hi*scale] (bounds included, as TensorFlow),
// 0 outside: dx = dy unless x*inv < lo or x*inv > hi
// (kernels.FakeQuantGrad). dx may alias dy.
func (p fq) ste(x, dy, dx []float32) { kernels.FakeQuantGrad(x, dy, dx, p.inv, p.lo, p.hi) }

// ste1 is ste for one value.
func (p *fq) ste1(x, dy float32) float32 {
	t := x * p.inv
	g := math.Float32bits(dy) // as bits: conditional moves, not branches
	if t < p.lo {
		g = 0
	}
	if t > p.hi {
		g = 0
	}
	return math.Float32frombits(g)
}

// layout says how the elements of a tensor map to quantization channels:
// element i belongs to channel (i / inner) % channels. A per-tensor
// quantizer has channels = inner = 1.
type layout struct {
	channels, inner int
}

// axisLayout returns the layout of per-axis quantization along axis of
// shape (negative axes count from the end) and the span-1 axes after it
// (span 0 or 1: axis alone), whose indices number the channels row-major.
func axisLayout(shape []int, axis, span int) (layout, bool) {
	if axis < 0 {
		axis += len(shape)
	}
	span = max(span, 1)
	if axis < 0 || axis+span > len(shape) {
		return layout{}, false
	}
	channels, inner := 1, 1
	for _, d := range shape[axis : axis+span] {
		channels *= d
	}
	for _, d := range shape[axis+span:] {
		inner *= d
	}
	return layout{channels: channels, inner: inner}, true
}

// FakeQuant fake-quantizes x into y (same length; y may alias x) with one
// scale and zero point over the integer range of bits (narrow: without the
// lowest value):
//
//	y = (clamp(round_half_even(x/scale) + zp, qmin, qmax) - zp) * scale
//
// where x/scale is computed as x*(1/scale) in float32 (see QuantizeValue).
func FakeQuant(x, y []float32, scale float32, zeroPoint int32, bits int, narrow bool) {
	qmin, qmax := qmath.QRange(bits, narrow)
	newFQ(scale, zeroPoint, qmin, qmax).apply(x, y)
}

// FakeQuantPerAxis is FakeQuant with one scale and zero point per channel of
// axis of a tensor of the given shape (x and y hold shape's elements in
// row-major order): for a Conv2D kernel (KH,KW,C,OC) axis 3, a depthwise
// kernel (KH,KW,C,1) axis 2 (with a depth multiplier M, (KH,KW,C*M) axis
// 2), a Dense kernel (in,out) axis 1.
func FakeQuantPerAxis(x, y []float32, shape []int, axis int, scale []float32, zeroPoint []int32, bits int, narrow bool) {
	lay, ok := axisLayout(shape, axis, 1)
	if !ok || len(scale) != lay.channels || len(zeroPoint) != lay.channels {
		panic("quantize: FakeQuantPerAxis: axis or parameter count does not match the shape")
	}
	qmin, qmax := qmath.QRange(bits, narrow)
	ps := make([]fq, lay.channels)
	for c := range ps {
		ps[c] = newFQ(scale[c], zeroPoint[c], qmin, qmax)
	}
	applyLayout(ps, lay, x, y)
}

// FakeQuantGrad is FakeQuant's straight-through gradient: dx = dy where x is
// inside the nudged range, 0 outside. dx may alias dy.
func FakeQuantGrad(x, dy, dx []float32, scale float32, zeroPoint int32, bits int, narrow bool) {
	qmin, qmax := qmath.QRange(bits, narrow)
	newFQ(scale, zeroPoint, qmin, qmax).ste(x, dy, dx)
}

// applyLayout fake-quantizes x into y with per-channel constants.
func applyLayout(ps []fq, lay layout, x, y []float32) {
	if len(ps) == 1 {
		ps[0].apply(x, y)
		return
	}
	C, in := lay.channels, lay.inner
	y = y[:len(x)]
	if in == 1 {
		for base := 0; base+C <= len(x); base += C {
			xr, yr := x[base:base+C], y[base:base+C]
			yr = yr[:len(xr)]
			for c, v := range xr {
				p := &ps[c]
				t := v * p.inv
				if t < p.lo {
					t = p.lo
				}
				if t > p.hi {
					t = p.hi
				}
				yr[c] = ((t + qmath.RoundMagic) - qmath.RoundMagic) * p.scale
			}
		}
		return
	}
	for base := 0; base < len(x); base += C * in {
		for c := 0; c < C; c++ {
			o := base + c*in
			ps[c].apply(x[o:o+in], y[o:o+in])
		}
	}
}

// steLayout writes the straight-through gradient with per-channel ranges.
func steLayout(ps []fq, lay layout, x, dy, dx []float32) {
	if len(ps) == 1 {
		ps[0].ste(x, dy, dx)
		return
	}
	C, in := lay.channels, lay.inner
	if in == 1 {
		dy, dx := dy[:len(x)], dx[:len(x)]
		for base := 0; base+C <= len(x); base += C {
			xr, dr, or := x[base:base+C], dy[base:base+C], dx[base:base+C]
			dr, or = dr[:len(xr)], or[:len(xr)]
			for c, v := range xr {
				or[c] = ps[c].ste1(v, dr[c])
			}
		}
		return
	}
	for base := 0; base < len(x); base += C * in {
		for c := 0; c < C; c++ {
			o := base + c*in
			ps[c].ste(x[o:o+in], dy[o:o+in], dx[o:o+in])
		}
	}
}

// minMax returns the smallest and largest of x (0, 0 for an empty slice;
// NaNs are ignored): kernels.MinMax, which gives the values (and, for a
// zero extreme, the sign) of the sequential loop "if v < lo { lo = v }; if
// v > hi { hi = v }". min and max are exact, so any split of the work
// gives the same values.
func minMax(x []float32) (lo, hi float32) {
	if len(x) == 0 {
		return 0, 0
	}
	lo, hi = kernels.MinMax(x)
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}
