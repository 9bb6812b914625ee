package qkernels

import (
	"fmt"
	"sync/atomic"
)

// DWWeights is a depthwise kernel (TAPS, C) packed for DepthwiseRows, with
// the offsets of its taps in the input and the input zero point. It is
// read-only once packed and may be shared by goroutines.
type DWWeights struct {
	path  Path
	c     int
	zp    int32
	w     []int8 // (TAPS, C) as given: the Generic and AVX2 paths
	offs  []int  // one offset per tap
	reach int    // the largest offset
	// VNNI and AVX2: taps in pairs, the last pair padded with a zero
	// weight (and offset offs[0]).
	pairs   int
	w16     []int16 // [16-channel block][pair][16 channels][2 taps], channels in lane order
	corr    []int32 // -zp * sum_t w[t][ch], per 16-channel block, in lane order
	offsPad []int   // offs padded to 2*pairs
	// row3 is the input row stride of a 3x3 window with taps at
	// ky*row3 + kx*C (0 for any other window): DepthwiseRowsRequant's
	// unrolled kernel.
	row3 int
}

// PackDepthwise packs w, (TAPS, C) row-major (tap t of channel ch at
// w[t*C+ch]), for the active path; offs holds each tap's offset in the
// input (>= 0) and zp is the input zero point.
func PackDepthwise(w []int8, offs []int, c int, zp int32) (*DWWeights, error) {
	taps := len(offs)
	if taps < 1 || c < 1 || len(w) != taps*c {
		return nil, fmt.Errorf("qkernels: %d depthwise weights for %d taps of %d channels", len(w), taps, c)
	}
	d := &DWWeights{path: ActivePath(), c: c, zp: zp, w: w, offs: offs, pairs: (taps + 1) / 2}
	for _, o := range offs {
		if o < 0 {
			return nil, fmt.Errorf("qkernels: depthwise tap offset %d", o)
		}
		d.reach = max(d.reach, o)
	}
	if d.path == Generic {
		return d, nil
	}
	blocks := (c + 15) / 16
	d.w16 = make([]int16, blocks*d.pairs*32)
	d.corr = make([]int32, blocks*16)
	for t := 0; t < taps; t++ {
		for ch := 0; ch < c; ch++ {
			v := w[t*c+ch]
			l := d.lane(ch % 16)
			d.w16[((ch/16*d.pairs+t/2)*16+l)*2+t%2] = int16(v)
			d.corr[ch/16*16+l] -= zp * int32(v)
		}
	}
	d.offsPad = append([]int(nil), offs...)
	for len(d.offsPad) < 2*d.pairs {
		d.offsPad = append(d.offsPad, offs[0])
	}
	if d.path == VNNI && taps == 9 {
		d.row3 = offs[3]
		for t, o := range offs {
			if o != t/3*d.row3+t%3*c {
				d.row3 = 0
			}
		}
	}
	return d, nil
}

// Path returns the path the weights were packed for.
func (d *DWWeights) Path() Path { return d.path }

// dwRqRows counts DepthwiseRowsRequant calls, for tests.
var dwRqRows atomic.Int64

// DepthwiseRowsRequant computes n pixels as DepthwiseRows does and writes
// them through the output stage o (built with NewChannelOutput for these
// C channels) to out, out[ox*C+ch], in one pass: on the VNNI path, for a
// 3x3 window whose every 16-channel group runs the fast output stage, the
// accumulators never leave the registers. It returns false, doing
// nothing, when that path does not apply; the caller then runs
// DepthwiseRows and o.Rows.
func (d *DWWeights) DepthwiseRowsRequant(out []int8, x []int8, n, step int, o *Output) bool {
	c := d.c
	if d.row3 == 0 || ActivePath() != VNNI || o == nil || o.n != c || !o.allFast || n <= 0 || (n > 1 && step <= 0) {
		return false
	}
	_ = out[n*c-1]
	_ = x[(n-1)*step+d.reach+c-1]
	dwRows3x3RqVNNI(&out[0], &x[0], &d.w16[0], &d.corr[0], c, d.row3, n, step, &o.groups[0], int64(o.lo), int64(o.hi))
	dwRqRows.Add(1)
	return true
}

// lane is the position of channel ch (< 16) of a block in the packed
// weights: channel order on VNNI; on AVX2 the order VPUNPCKLWD and
// VPUNPCKHWD leave the channels in (0-3, 8-11, then 4-7, 12-15).
func (d *DWWeights) lane(ch int) int {
	if d.path != AVX2 {
		return ch
	}
	return ch&3 | (ch&8)>>1 | (ch&4)<<1
}

// Overread is the number of bytes past the last channel of a tap that
// DepthwiseRows may read on the AVX2 path (which has no byte masks); when
// x is shorter it falls back to a slower loop.
const Overread = 15

// dwAsmRows counts DepthwiseRows calls served by assembly, for tests.
var dwAsmRows atomic.Int64

// DepthwiseRows computes n pixels of depthwise dot products over an input
// whose windows lie wholly inside it (padding already written as the zero
// point), pixel ox's window at x[ox*step:]:
//
//	acc[ox*C+ch] = sum_t (x[ox*step+offs[t]+ch] - zp) * w[t*C+ch]
//
// for ox < n and ch < C, in wrapping int32 (the same integers on every
// path; the VNNI path sums x*w from -zp*sum_t w, two taps per VPDPWSSD).
func (d *DWWeights) DepthwiseRows(acc []int32, x []int8, n, step int) {
	c := d.c
	if n <= 0 {
		return
	}
	if n > 1 && step <= 0 {
		panic("qkernels: DepthwiseRows: step must be positive")
	}
	_ = acc[n*c-1]
	_ = x[(n-1)*step+d.reach+c-1]
	switch p := ActivePath(); {
	case d.path == VNNI && p == VNNI:
		dwRowsVNNI(&acc[0], &x[0], &d.w16[0], &d.corr[0], c, d.pairs, &d.offsPad[0], n, step)
		dwAsmRows.Add(1)
		return
	case d.path == AVX2 && p == AVX2 && len(x) >= (n-1)*step+d.reach+c+Overread:
		dwRowsAVX2(&acc[0], &x[0], &d.w16[0], &d.corr[0], c, d.pairs, &d.offsPad[0], n, step)
		dwAsmRows.Add(1)
		return
	}
	for ox := 0; ox < n; ox++ {
		a := acc[ox*c : (ox+1)*c]
		clear(a)
		for t, o := range d.offs {
			MulAddRow(a, x[ox*step+o:], d.w[t*c:], d.zp)
		}
	}
}
