package lite

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
)

// dwKernel is DepthwiseConv2D: each channel is convolved with its own
// window. The input is first copied into a padded buffer whose border
// holds the input zero point (so a padded tap contributes (zp-zp)*w = 0,
// as the op defines), unless no window leaves the image; with a depth
// multiplier M the copy repeats each input channel M times, so that output
// channel c*M+m reads its own copy of channel c and the rest is a depthwise
// convolution of C*M channels; a dilation only spaces the taps' offsets in
// the copy. Then every output row is one qkernels.DepthwiseRowsRequant
// call (3x3 windows on VNNI: the output stage applied in registers) or a
// qkernels.DepthwiseRows call, channels in vector lanes, whose row of
// accumulators the vector output stage requantizes while it is in L1.
// Output rows are split across threads. A 3x3 window without dilation or
// depth multiplier on the VNNI path takes the pair-row kernel instead
// (qkernels.DWPairs): each thread converts the input rows its output rows
// read into pair rows, once each, in a ring of three, and needs no padded
// copy.
// in (N,H,W,C), w (KH,KW,C*M), bias (C*M) -> out (N,OH,OW,C*M)
type dwKernel struct {
	it                     *Interpreter
	in, out                int
	h, w, c, oh, ow        int // c: the output channels, C*M
	cin, m, dh, dw         int // input channels, depth multiplier, dilation
	kh, kw, sh, sw, pt, pl int
	zpIn                   int8
	padded                 bool // windows leave the image: read a padded copy
	hp, wp                 int  // the height and width of the rows read
	d                      *qkernels.DWWeights
	o                      *qkernels.Output
	acc                    [][]int32 // per part: (OW, C)
	xp                     []int8    // the padded copy, (N, HP, WP, C), then qkernels.Overread bytes
	x, y                   []int8    // the rows read and the output
	r                      qkernels.Runner
	rowsFn, padFn          func(part, lo, hi int)

	// The pair-row path (nil pairs: the rows above).
	pairs   *qkernels.DWPairs
	ring    [][3][]int32 // per part: three pair rows of PairPositions(WP, SW)*C + PairSlack dwords
	zeroRow []int32      // the pair row of a row outside the image
	pairsFn func(part, lo, hi int)
}

// dwPairRows lets depthwise ops take the pair-row kernel (benchmarks turn
// it off to compare).
var dwPairRows = true

func newDepthwise(it *Interpreter, op *Op) (*dwKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	s, o := tin.Shape, tout.Shape
	k := &dwKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: o[2], oh: o[0], ow: o[1],
		cin: s[2], m: max(op.DepthMultiplier, 1), dh: max(op.Dilation[0], 1), dw: max(op.Dilation[1], 1),
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2],
		zpIn: int8(tin.ZeroPoint)}
	mult, err := channelMultipliers(tin, tout, op.WeightScales, k.c)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(tout, op.Activation)
	if k.o, err = qkernels.NewChannelOutput(k.c, op.Bias, mult, tout.ZeroPoint, lo, hi); err != nil {
		return nil, err
	}
	k.hp, k.wp = (k.oh-1)*k.sh+(k.kh-1)*k.dh+1, (k.ow-1)*k.sw+(k.kw-1)*k.dw+1
	k.padded = k.pt > 0 || k.pl > 0 || k.hp > k.h || k.wp > k.w || k.m > 1 ||
		// AVX2 reads whole 16-channel blocks: give it the copy's slack.
		(qkernels.ActivePath() == qkernels.AVX2 && k.c%16 != 0)
	if !k.padded {
		k.hp, k.wp = k.h, k.w
	}
	var offs []int
	for ky := 0; ky < k.kh; ky++ {
		for kx := 0; kx < k.kw; kx++ {
			offs = append(offs, (ky*k.dh*k.wp+kx*k.dw)*k.c)
		}
	}
	if k.d, err = qkernels.PackDepthwise(op.Weights, offs, k.c, tin.ZeroPoint); err != nil {
		return nil, err
	}
	if dwPairRows && k.kh == 3 && k.kw == 3 && k.dh == 1 && k.dw == 1 && k.m == 1 && (k.sw == 1 || k.sw == 2) {
		if k.pairs, err = qkernels.PackDWPairs(op.Weights, k.c, tin.ZeroPoint, k.o); err != nil {
			return nil, err
		}
	}
	k.setFuncs()
	k.r.Threads = it.threads
	return k, nil
}

// shareWith returns this op's kernel for sub, sharing the packed weights
// and output stage.
func (k *dwKernel) shareWith(sub *Interpreter) kernel {
	c := &dwKernel{it: sub, in: k.in, out: k.out, h: k.h, w: k.w, c: k.c, oh: k.oh, ow: k.ow,
		cin: k.cin, m: k.m, dh: k.dh, dw: k.dw, kh: k.kh, kw: k.kw, sh: k.sh, sw: k.sw, pt: k.pt, pl: k.pl, zpIn: k.zpIn,
		padded: k.padded, hp: k.hp, wp: k.wp, d: k.d, o: k.o, pairs: k.pairs, zeroRow: k.zeroRow}
	c.setFuncs()
	c.r.Threads = sub.threads
	return c
}

func (k *dwKernel) setFuncs() {
	k.rowsFn, k.padFn, k.pairsFn = k.rows, k.padRows, k.pairRows
	if k.pairs != nil {
		k.padded = false // the pair rows hold the padding
	}
}

// grain is the number of output rows worth a part of their own.
func (k *dwKernel) grain() int { return max(1, 16384/max(1, k.ow*k.c*k.kh*k.kw)) }

func (k *dwKernel) alloc(n int) {
	parts := max(kernels.Threads(), k.r.Parts(n*k.oh, k.grain()))
	if k.pairs != nil {
		row := qkernels.PairPositions(k.wp, k.sw)*k.c + qkernels.PairSlack
		if k.zeroRow == nil {
			k.zeroRow = make([]int32, row)
		}
		for len(k.ring) < parts {
			k.ring = append(k.ring, [3][]int32{make([]int32, row), make([]int32, row), make([]int32, row)})
		}
		return
	}
	for len(k.acc) < parts {
		k.acc = append(k.acc, make([]int32, k.ow*k.c))
	}
	if need := n*k.hp*k.wp*k.c + qkernels.Overread; k.padded && len(k.xp) < need {
		k.xp = make([]int8, need)
		for i := range k.xp {
			k.xp[i] = k.zpIn // the border; run copies the image inside it
		}
	}
}

func (k *dwKernel) run(n int) {
	k.alloc(n) // no-op unless the batch or thread count grew since Allocate
	k.x, k.y = k.it.i8[k.in], k.it.i8[k.out]
	if k.padded {
		k.r.For(n*k.h, max(1, 16384/(k.w*k.c)), k.padFn)
		k.x = k.xp
	}
	if k.pairs != nil {
		k.r.For(n*k.oh, k.grain(), k.pairsFn)
	} else {
		k.r.For(n*k.oh, k.grain(), k.rowsFn)
	}
	k.x, k.y = nil, nil
}

// pairRows computes output rows [lo, hi) of the batch (row = b*OH + oy)
// with the pair-row kernel: the input rows their windows read are
// converted into part's ring of pair rows, each once per call (input row
// iy in slot iy%3, which three consecutive rows never share).
func (k *dwKernel) pairRows(part, lo, hi int) {
	C := k.c
	ring := &k.ring[part]
	tags := [3]int{-1, -1, -1} // the input row (b*H + iy) each slot holds
	for r := lo; r < hi; r++ {
		b, oy := r/k.oh, r%k.oh
		var rows [3][]int32
		for ky := range rows {
			iy := oy*k.sh - k.pt + ky
			if iy < 0 || iy >= k.h {
				rows[ky] = k.zeroRow
				continue
			}
			s, tag := iy%3, b*k.h+iy
			if tags[s] != tag {
				k.pairs.PairRow(ring[s], k.x[tag*k.w*C:(tag+1)*k.w*C], k.w, k.pl, k.wp, k.sw)
				tags[s] = tag
			}
			rows[ky] = ring[s]
		}
		k.pairs.Rows(k.y[r*k.ow*C:(r+1)*k.ow*C], rows[0], rows[1], rows[2], k.ow, k.sw)
	}
}

// padRows copies image rows [lo, hi) (row = b*H + y) into the padded
// copy, each input channel repeated M times; its border was filled with
// the zero point when it was allocated and is never written again.
func (k *dwKernel) padRows(_, lo, hi int) {
	C, rowLen := k.c, k.wp*k.c
	src := k.it.i8[k.in]
	cols := max(0, min(k.w, k.wp-k.pl)) // the image columns that windows read
	for r := lo; r < hi; r++ {
		b, y := r/k.h, r%k.h
		if y+k.pt >= k.hp {
			continue // below every window
		}
		d := (b*k.hp+y+k.pt)*rowLen + k.pl*C
		s := src[r*k.w*k.cin : r*k.w*k.cin+cols*k.cin]
		if k.m == 1 {
			copy(k.xp[d:d+cols*C], s)
			continue
		}
		dst := k.xp[d : d+cols*C]
		for i, v := range s {
			rep := dst[i*k.m : (i+1)*k.m]
			for j := range rep {
				rep[j] = v
			}
		}
	}
}

// rows computes output rows [lo, hi) of the batch (row = b*OH + oy).
func (k *dwKernel) rows(part, lo, hi int) {
	C := k.c
	acc := k.acc[part]
	for r := lo; r < hi; r++ {
		b, oy := r/k.oh, r%k.oh
		x, y := k.x[((b*k.hp+oy*k.sh)*k.wp)*C:], k.y[(b*k.oh+oy)*k.ow*C:][:k.ow*C]
		if k.d.DepthwiseRowsRequant(y, x, k.ow, k.sw*C, k.o) {
			continue // one pass, the accumulators kept in registers
		}
		k.d.DepthwiseRows(acc, x, k.ow, k.sw*C)
		k.o.Rows(acc, C, k.ow, y, C)
	}
}
