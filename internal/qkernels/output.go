package qkernels

import (
	"fmt"
	"math/bits"

	"github.com/goqat/goqat/qmath"
)

// colParams holds the output-stage constants of 16 columns in the layout
// requantVNNI16 reads. The 64-bit constants come in two halves, the even
// columns (0, 2, ..., 14) then the odd ones, matching the two VPMULDQ
// products of one 16-lane vector: offset at byte 0, m0 at 64, shift at
// 192, half-1 at 320, 2^shift at 448, mode at 576, then for the fast mode
// u and r of fastForm at 584 and 648, in column order, and h at 712 (even
// then odd columns).
type colParams struct {
	offset [16]int32
	m0     [2][8]int64
	shift  [2][8]int64
	half1  [2][8]int64
	bit    [2][8]int64
	mode   int64 // rqFast, rqNarrow or rqWide
	u32    [16]int32
	r32    [16]int32
	h64    [2][8]int64 // 2^31 for a column with shift 32, else 0
}

// Output stage modes of a 16-column group, by its columns' multipliers.
const (
	// rqFast: every column has 32 <= Shift <= 54 and at most 20 trailing
	// zero bits in M0, so that round half up gives the same int8 output as
	// round half to even (a tie rescales beyond the int8 range; see
	// fastForm), and the stage works on the products' high dwords in
	// 32-bit lanes (see fastForm):
	//	q + zp = (hi32(acc*M0 + h) + r) >> (Shift-32)
	rqFast = 0
	// rqNarrow: every Shift >= 31: ties resolved in 64-bit lanes, the
	// quotient fits in 32 bits.
	rqNarrow = 1
	// rqWide: some Shift < 31: zero point and clamp in 64-bit lanes too.
	rqWide = 2
)

// set stores column l's constants (shift >= 1; m0 = 0 for a column that
// rescales everything to 0) for output zero point zp.
func (g *colParams) set(l int, m0, shift int64, zp int32) {
	h, i := l%2, l/2
	g.m0[h][i], g.shift[h][i], g.half1[h][i], g.bit[h][i] = m0, shift, int64(1)<<(shift-1)-1, int64(1)<<shift
	mode := int64(rqFast)
	if u, r, h, ok := fastForm(m0, shift, zp); ok {
		g.u32[l], g.r32[l], g.h64[l%2][l/2] = u, r, h
	} else if shift < 31 {
		mode = rqWide
	} else {
		mode = rqNarrow
	}
	g.mode = max(g.mode, mode)
}

// fastForm returns the constants of the rqFast stage of a column,
//
//	out = (hi32(acc*m0 + h) + r) >> u    with u = shift-32,
//	                                       r = 2^(u-1) + zp*2^u, h = 0  (shift >= 33)
//	                                       r = zp, h = 2^31             (shift = 32)
//
// (round half up: the half, 2^(shift-1), is r's first term, or h where it
// is not a multiple of 2^32; the zero point folded into the rounding
// constant: adding a multiple of 2^u before the shift adds zp after it),
// and whether the column qualifies. It does when 32 <= shift <= 54 (so that
// |hi32| < 2^30 plus |r| < 2^30 cannot overflow int32) and M0 has at most
// 20 trailing zero bits tz: then round half up and half to even differ
// only on no output at all. A tie needs acc*M0 to be an odd multiple of
// 2^(shift-1), so acc a multiple of 2^(shift-1-tz); then
// |acc*M0/2^shift| >= 2^(29-tz) >= 512, and both roundings of it clamp to
// the same end of the int8 range. A zero M0 qualifies with u = 1.
func fastForm(m0, shift int64, zp int32) (u, r int32, h int64, ok bool) {
	if m0 == 0 {
		return 1, 1 + 2*zp, 0, true
	}
	if shift < 32 || shift > 54 || bits.TrailingZeros64(uint64(m0)) > 20 {
		return 0, 0, 0, false
	}
	if shift == 32 {
		return 0, zp, 1 << 31, true
	}
	u = int32(shift - 32)
	return u, 1<<(u-1) + zp<<u, 0, true
}

// colParams8 holds the AVX2 output-stage constants of 8 columns, in the
// layout requantAVX2x8 reads: offset at byte 0, m0 at 32, shift at 96,
// half-1 at 160, 2^(62-shift) at 224; for the fast form (rqFast, see
// colParams) m0 of the even then the odd columns at 288, u and r of
// fastForm at 352 and 384, the flag at 416, and h (even then odd columns)
// at 424.
type colParams8 struct {
	offset [8]int32
	m0     [8]int64
	shift  [8]int64
	half1  [8]int64
	sub    [8]int64
	m0eo   [2][4]int64
	u32    [8]int32
	r32    [8]int32
	fast   int64       // 1 when every column is in rqFast
	h64eo  [2][4]int64 // fastForm's h, even then odd columns
}

// Output is the output stage of a product: for column n,
//
//	acc := offset[n] + sum_k a'[k]*w[k][n]   (int32, wrapping)
//	out := clamp(round_half_even(acc*M0[n] / 2^Shift[n]) + zp, lo, hi)
//
// with offset[n] = bias[n] - (zpIn+128)*colsum[n], which equals lite's
// reference bias[n] + sum_k (a[k]-zpIn)*w[k][n] modulo 2^32.
type Output struct {
	n          int
	offset     []int32
	mult       []qmath.Multiplier
	zp, lo, hi int32
	groups     []colParams  // 16-column groups (the last may be partial), for the VNNI vector stage
	groups8    []colParams8 // full 8-column groups, for the AVX2 vector stage
	vec        bool         // every shift fits the VNNI vector stage
	allFast    bool         // every VNNI group runs rqFast
	vec2       bool         // every shift fits the AVX2 vector stage (<= 61)
	hZero      []bool       // per VNNI group: every h of fastForm is 0 (no Shift of 32)
}

// NewChannelOutput builds an output stage for n channels whose
// accumulators are the plain sums bias[c] + sum (x-zpIn)*w (a depthwise
// convolution's): the offset is the bias alone (nil for none).
func NewChannelOutput(n int, bias []int32, mult []qmath.Multiplier, zpOut, lo, hi int32) (*Output, error) {
	zero := &Weights{n: n, colSum: make([]int32, n)}
	return NewOutput(zero, bias, -128, mult, zpOut, lo, hi)
}

// NewOutput builds the output stage of w's columns: bias (nil for none),
// the input zero point, one multiplier per column, and the output zero
// point and clamp.
func NewOutput(w *Weights, bias []int32, zpIn int32, mult []qmath.Multiplier, zpOut, lo, hi int32) (*Output, error) {
	n := w.n
	if (bias != nil && len(bias) != n) || len(mult) != n {
		return nil, fmt.Errorf("qkernels: %d biases and %d multipliers for %d columns", len(bias), len(mult), n)
	}
	if lo > hi || lo < -128 || hi > 127 {
		return nil, fmt.Errorf("qkernels: clamp [%d, %d] outside int8", lo, hi)
	}
	o := &Output{n: n, offset: make([]int32, n), mult: mult, zp: zpOut, lo: lo, hi: hi, vec: true, vec2: true}
	for j := range o.offset {
		b := int32(0)
		if bias != nil {
			b = bias[j]
		}
		o.offset[j] = b - (zpIn+128)*w.colSum[j]
	}
	o.groups = make([]colParams, (n+15)/16)
	for j := 0; j < n; j++ {
		g, l := &o.groups[j/16], j%16
		g.offset[l] = o.offset[j]
		m := mult[j]
		switch {
		case m.M0 == 0 || m.Shift >= 63:
			// RoundShift gives 0: |acc*M0| < 2^62 <= 2^(Shift-1).
			g.set(l, 0, 62, zpOut)
		case m.Shift >= 1:
			g.set(l, int64(m.M0), int64(m.Shift), zpOut)
		default:
			o.vec = false // a multiplier of 2^30 or more: scalar stage
		}
	}
	o.allFast = o.vec
	o.hZero = make([]bool, len(o.groups))
	for i := range o.groups {
		g := &o.groups[i]
		o.allFast = o.allFast && g.mode == rqFast
		o.hZero[i] = g.h64 == [2][8]int64{}
	}
	o.groups8 = make([]colParams8, n/8)
	for i := range o.groups8 {
		o.groups8[i].fast = 1
	}
	for j := 0; j < n/8*8; j++ {
		g, l := &o.groups8[j/8], j%8
		g.offset[l] = o.offset[j]
		m := mult[j]
		switch {
		case m.M0 == 0 || m.Shift >= 63:
			g.m0[l], g.shift[l], g.half1[l], g.sub[l] = 0, 1, 0, 1<<61
			g.u32[l], g.r32[l], _, _ = fastForm(0, 0, zpOut)
		case m.Shift >= 1 && m.Shift <= 61:
			g.m0[l], g.shift[l], g.half1[l], g.sub[l] = int64(m.M0), int64(m.Shift), int64(1)<<(m.Shift-1)-1, int64(1)<<(62-m.Shift)
			if u, r, h, ok := fastForm(int64(m.M0), int64(m.Shift), zpOut); ok {
				g.m0eo[l%2][l/2], g.u32[l], g.r32[l], g.h64eo[l%2][l/2] = int64(m.M0), u, r, h
			} else {
				g.fast = 0
			}
		default:
			o.vec2 = false
		}
	}
	return o, nil
}

// fastPair returns the two 16-column groups of the 32-column panel at
// column n0 (cols of them used; the second is the first again when cols <=
// 16), whether both run the rqFast stage, which dotRqVNNI12x32 fuses into
// the product, and whether all their h are 0 (the H0 kernels).
func (o *Output) fastPair(n0, cols int) (p0, p1 *colParams, ok, h0 bool) {
	if !o.vec {
		return nil, nil, false, false
	}
	p0 = &o.groups[n0/16]
	p1 = p0
	h0 = o.hZero[n0/16]
	if cols > 16 {
		p1 = &o.groups[n0/16+1]
		h0 = h0 && o.hZero[n0/16+1]
	}
	return p0, p1, p0.mode == rqFast && p1.mode == rqFast, h0
}

// finish requantizes one accumulator of column j (the scalar stage, the
// reference for the vector one).
func (o *Output) finish(j int, dot int32) int8 {
	return int8(qmath.Requantize(o.offset[j]+dot, o.mult[j], o.zp, o.lo, o.hi))
}
