package qkernels

import (
	"fmt"
	"slices"
	"sync/atomic"
)

// A 3x3 depthwise convolution on the VNNI path, from rows of tap pairs
// (docs/DESIGN.md, Int8 engine): each input row the window reads is
// converted once into a pair row, in which the dword of pixel X and
// channel ch holds two int16 values, the input minus its zero point at
// pixel X (low word) and at pixel X+1 (high word), 0 outside the image:
//
//	pair[X*C+ch] = uint16(v(X-pl, ch)) | uint32(v(X-pl+1, ch)) << 16
//	v(ix, ch) = x[ix*C+ch] - zp for 0 <= ix < W, else 0
//
// Taps (ky, 0) and (ky, 1) of output pixel ox are then one dword of row
// ky at X = ox*SW, and tap (ky, 2) the low word at X = ox*SW+2 (its high
// word meets a zero weight), so that one VPDPWSSD adds two taps of 16
// channels straight from memory: six per output vector, no shuffles,
// where DepthwiseRows widens and interleaves the input bytes for every
// tap. With stride 1 each input row is converted once for three output
// rows. The sums are the same integers as DepthwiseRows's, so the output
// is bit-identical.

// PairSlack is the number of dwords past the end of a pair row that
// DWPairs.Rows may read (zero weights meet them).
const PairSlack = 16

// DWPairs is a 3x3 depthwise kernel of C channels packed for Rows, with
// its input zero point and output stage: per 16-channel block, the six
// (ky, pair) weight vectors, pair 0 holding taps (ky, 0) and (ky, 1),
// pair 1 tap (ky, 2) and a zero. It is read-only once packed and may be
// shared by goroutines.
type DWPairs struct {
	c     int
	zp    int32
	w     []int32 // [block][ky][pair][16 lanes]
	zpRow []int8  // C bytes of the zero point: a pixel outside the image
	o     *Output
	h0    bool // every group's h is 0: the kernel without the h additions
}

// dwPairRows counts DWPairs.Rows calls, for tests.
var dwPairRows atomic.Int64

// PackDWPairs packs the 3x3 depthwise weights w, (9, C) row-major (tap
// ky*3+kx of channel ch at w[(ky*3+kx)*C+ch]), for inputs of zero point
// zp, with their output stage o (NewChannelOutput for these C channels).
// It returns nil when the pair kernel does not apply: the VNNI path is
// not active, or some 16-channel group of o does not run the fast output
// stage.
func PackDWPairs(w []int8, c int, zp int32, o *Output) (*DWPairs, error) {
	if c < 1 || len(w) != 9*c {
		return nil, fmt.Errorf("qkernels: %d depthwise weights for a 3x3 window of %d channels", len(w), c)
	}
	if zp < -128 || zp > 127 {
		return nil, fmt.Errorf("qkernels: input zero point %d outside int8", zp)
	}
	if ActivePath() != VNNI || o == nil || o.n != c || !o.allFast {
		return nil, nil
	}
	blocks := (c + 15) / 16
	d := &DWPairs{c: c, zp: zp, w: make([]int32, blocks*6*16), zpRow: make([]int8, c), o: o, h0: !slices.Contains(o.hZero, false)}
	for i := range d.zpRow {
		d.zpRow[i] = int8(zp)
	}
	for ch := 0; ch < c; ch++ {
		b, l := ch/16, ch%16
		for ky := 0; ky < 3; ky++ {
			w0, w1, w2 := w[(ky*3)*c+ch], w[(ky*3+1)*c+ch], w[(ky*3+2)*c+ch]
			d.w[((b*3+ky)*2+0)*16+l] = int32(uint16(int16(w0))) | int32(w1)<<16
			d.w[((b*3+ky)*2+1)*16+l] = int32(uint16(int16(w2)))
		}
	}
	return d, nil
}

// PairRow converts one input row x (W pixels of C channels) into the pair
// row dst (see DWPairs) for the positions X < wp that stride sw (1 or 2)
// reads, the window's left padding pl: at stride 1 every position, at
// stride 2 the even ones only (pair 0 of output pixel ox at 2*ox, pair 1
// at 2*ox+2), stored one after the other, position X at dst[X/sw*C:]. dst
// must hold PairPositions(wp, sw)*C + PairSlack dwords (the slack is not
// written).
func (d *DWPairs) PairRow(dst []int32, x []int8, w, pl, wp, sw int) {
	c := d.c
	wq := PairPositions(wp, sw)
	if w < 1 || wp < 1 || pl < 0 || (sw != 1 && sw != 2) || len(x) < w*c || len(dst) < wq*c+PairSlack {
		panic(fmt.Sprintf("qkernels: PairRow: %d dwords for %d positions (stride %d) from %d bytes of %d pixels of %d channels", len(dst), wp, sw, len(x), w, c))
	}
	// Position X pairs image pixels X-pl and X-pl+1; a pixel outside the
	// image reads the zero-point row (so its value is 0).
	pixel := func(ix int) []int8 {
		if ix < 0 || ix >= w {
			return d.zpRow
		}
		return x[ix*c : (ix+1)*c]
	}
	edge := func(j int) {
		X := j * sw
		d.pairs(dst[j*c:(j+1)*c], pixel(X-pl), pixel(X-pl+1))
	}
	// Interior positions j0 <= j < j1: both pixels in the image.
	j0 := min((pl+sw-1)/sw, wq)
	j1 := j0
	if last := w - 2 + pl; last >= 0 {
		j1 = max(j0, min(last/sw+1, wq))
	}
	for j := 0; j < j0; j++ {
		if X := j * sw; X+1 < pl {
			clear(dst[j*c : (j+1)*c]) // both pixels in the padding
			continue
		}
		edge(j)
	}
	if n := j1 - j0; n > 0 {
		src := x[(j0*sw-pl)*c:]
		switch {
		case sw == 1:
			d.pairs(dst[j0*c:j1*c], src[:n*c], src[c:(n+1)*c])
		case ActivePath() == VNNI:
			_ = src[(2*n-1)*c+c-1]
			pairRowS2AVX512(&dst[j0*c], &src[0], n, c, d.zp)
		default:
			for j := 0; j < n; j++ {
				d.pairs(dst[(j0+j)*c:(j0+j+1)*c], src[2*j*c:(2*j+1)*c], src[(2*j+1)*c:(2*j+2)*c])
			}
		}
	}
	for j := j1; j < wq; j++ {
		if X := j * sw; X-pl >= w {
			clear(dst[j*c : (j+1)*c]) // both pixels past the image
			continue
		}
		edge(j)
	}
}

// PairPositions returns the positions a pair row of a window row of wp
// positions holds at stride sw: all of them at stride 1, the even ones at
// stride 2.
func PairPositions(wp, sw int) int { return (wp + sw - 1) / sw }

// pairs writes dst[i] = uint16(lo[i]-zp) | (hi[i]-zp) << 16.
func (d *DWPairs) pairs(dst []int32, lo, hi []int8) {
	n := len(dst)
	lo, hi = lo[:n], hi[:n]
	if ActivePath() == VNNI {
		pairRowAVX512(&dst[0], &lo[0], &hi[0], n, d.zp)
		return
	}
	for i := range dst {
		dst[i] = int32(uint16(int16(int32(lo[i])-d.zp))) | (int32(hi[i])-d.zp)<<16
	}
}

// Rows computes n output pixels of the 3x3 depthwise convolution with
// stride sw (1 or 2) from the pair rows r0, r1, r2 of the window's three
// input rows (PairRow, same stride), and writes them through the output
// stage to out[ox*C+ch]. Each row must hold PairPositions((n-1)*sw+3,
// sw)*C + PairSlack dwords.
func (d *DWPairs) Rows(out []int8, r0, r1, r2 []int32, n, sw int) {
	c := d.c
	if n <= 0 {
		return
	}
	need := PairPositions((n-1)*sw+3, sw)*c + PairSlack
	if (sw != 1 && sw != 2) || len(out) < n*c || len(r0) < need || len(r1) < need || len(r2) < need {
		panic(fmt.Sprintf("qkernels: DWPairs.Rows: %d outputs and rows of %d, %d, %d dwords for %d pixels of %d channels, stride %d", len(out), len(r0), len(r1), len(r2), n, c, sw))
	}
	// Output pixels are one position apart; pair 1 is 2/sw positions on.
	if d.h0 {
		dwPairs3x3RqVNNIH0(&out[0], &r0[0], &r1[0], &r2[0], &d.w[0], c, n, c, &d.o.groups[0], int64(d.o.lo), int64(d.o.hi), 2/sw*c*4)
	} else {
		dwPairs3x3RqVNNI(&out[0], &r0[0], &r1[0], &r2[0], &d.w[0], c, n, c, &d.o.groups[0], int64(d.o.lo), int64(d.o.hi), 2/sw*c*4)
	}
	dwPairRows.Add(1)
}
