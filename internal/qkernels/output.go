package qkernels

import (
	"fmt"

	"github.com/goqat/goqat/lite/fixedpoint"
)

// colParams holds the output-stage constants of 16 columns in the layout
// requantVNNI16 reads: offset at byte 0, m0 at 64, shift at 192, half-1 at
// 320.
type colParams struct {
	offset [16]int32
	m0     [16]int64
	shift  [16]int64
	half1  [16]int64
}

// colParams8 holds the AVX2 output-stage constants of 8 columns, in the
// layout requantAVX2x8 reads: offset at byte 0, m0 at 32, shift at 96,
// half-1 at 160, 2^(62-shift) at 224.
type colParams8 struct {
	offset [8]int32
	m0     [8]int64
	shift  [8]int64
	half1  [8]int64
	sub    [8]int64
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
	mult       []fixedpoint.Multiplier
	zp, lo, hi int32
	groups     []colParams  // 16-column groups (the last may be partial), for the VNNI vector stage
	groups8    []colParams8 // full 8-column groups, for the AVX2 vector stage
	vec        bool         // every shift fits the VNNI vector stage
	vec2       bool         // every shift fits the AVX2 vector stage (<= 61)
}

// NewChannelOutput builds an output stage for n channels whose
// accumulators are the plain sums bias[c] + sum (x-zpIn)*w (a depthwise
// convolution's): the offset is the bias alone (nil for none).
func NewChannelOutput(n int, bias []int32, mult []fixedpoint.Multiplier, zpOut, lo, hi int32) (*Output, error) {
	zero := &Weights{n: n, colSum: make([]int32, n)}
	return NewOutput(zero, bias, -128, mult, zpOut, lo, hi)
}

// NewOutput builds the output stage of w's columns: bias (nil for none),
// the input zero point, one multiplier per column, and the output zero
// point and clamp.
func NewOutput(w *Weights, bias []int32, zpIn int32, mult []fixedpoint.Multiplier, zpOut, lo, hi int32) (*Output, error) {
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
			g.m0[l], g.shift[l], g.half1[l] = 0, 1, 0
		case m.Shift >= 1:
			g.m0[l], g.shift[l], g.half1[l] = int64(m.M0), int64(m.Shift), int64(1)<<(m.Shift-1)-1
		default:
			o.vec = false // a multiplier of 2^30 or more: scalar stage
		}
	}
	o.groups8 = make([]colParams8, n/8)
	for j := 0; j < n/8*8; j++ {
		g, l := &o.groups8[j/8], j%8
		g.offset[l] = o.offset[j]
		m := mult[j]
		switch {
		case m.M0 == 0 || m.Shift >= 63:
			g.m0[l], g.shift[l], g.half1[l], g.sub[l] = 0, 1, 0, 1<<61
		case m.Shift >= 1 && m.Shift <= 61:
			g.m0[l], g.shift[l], g.half1[l], g.sub[l] = int64(m.M0), int64(m.Shift), int64(1)<<(m.Shift-1)-1, int64(1)<<(62-m.Shift)
		default:
			o.vec2 = false
		}
	}
	return o, nil
}

// finish requantizes one accumulator of column j (the scalar stage, the
// reference for the vector one).
func (o *Output) finish(j int, dot int32) int8 {
	return int8(fixedpoint.Requantize(o.offset[j]+dot, o.mult[j], o.zp, o.lo, o.hi))
}
