package lite

import (
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
)

// convKernel is Conv2D: an int32-accumulating int8 GEMM over im2col rows
// with per-channel requantization. The im2col rows are never stored whole:
// the GEMM asks for one tile of rows at a time and fillRows writes them
// (padding taps hold the input's zero point, which contributes nothing).
// A dilated or grouped convolution takes the general path instead (see
// convGroup): one GEMM per channel group on rows fillGeneral writes. On
// VNNI, a convolution of C % 4 == 0 channels whose output rows fill the
// kernel's tiles takes the direct path (convdirect.go): no im2col rows,
// the GEMM reads the padded input in place.
// in (N,H,W,C), w (KH,KW,C/G,OC), bias (OC) -> out (N,OH,OW,OC)
type convKernel struct {
	it                     *Interpreter
	in, out                int
	h, w, c, oh, ow, oc    int
	kh, kw, sh, sw, pt, pl int
	zpIn                   int8
	lda                    int
	padRow                 []uint8 // kw*C bytes of the zero point, XOR 0x80
	g                      *gemmOut
	fill                   func(dst []uint8, i0, n int)
	x                      []int8 // input of the current run

	// Short window rows (KW*C < 32: a first layer's few channels) are
	// read from a padded copy of the input made once per run, (N, HP,
	// WP, C) XOR 0x80 with the zero point around the image, so that an
	// im2col row is KH moves of 8-byte words with no bounds checks.
	padded    bool
	hp, wp    int
	xp        []uint8 // the padded copy, then 8 bytes of slack
	fillPad   func(dst []uint8, i0, n int)
	padRowsFn func(part, lo, hi int)
	padR      qkernels.Runner

	// The direct path (convdirect.go): GEMM rows read in place from
	// the padded copy, tilesPerImg tiles per image (virtual: MR
	// consecutive positions of the padded image, else MR pixels of one
	// output row).
	direct      bool
	virtual     bool
	tilesPerImg int
	dir         qkernels.Direct

	// The general path (dilation (dh, dw) above 1 or groups above 1):
	// one GEMM per group, nil otherwise.
	dh, dw, groups int
	grp            []convGroup

	// fa, if set, is the residual Add this convolution runs on its rows
	// (fuseadd.go); out is then the Add's output.
	fa *fusedAdd
}

// fuse makes the convolution run the Add fa on its output rows and write
// the Add's output.
func (k *convKernel) fuse(fa *fusedAdd) {
	k.fa, k.out = fa, fa.y
	k.g.g.SetPost(fa.rows(k.it))
}

// convGroup is one channel group of the general path: its GEMM, on the
// kernel columns of its OC/G filters, and the fill function writing its
// im2col rows (its C/G channels, taps (dh, dw) apart).
type convGroup struct {
	g    *gemmOut
	fill func(dst []uint8, i0, n int)
}

func newConv(it *Interpreter, op *Op) (*convKernel, error) {
	tin, tout := &it.m.Tensors[op.Inputs[0]], &it.m.Tensors[op.Output]
	s, o := tin.Shape, tout.Shape
	k := &convKernel{it: it, in: op.Inputs[0], out: op.Output, h: s[0], w: s[1], c: s[2], oh: o[0], ow: o[1], oc: o[2],
		kh: op.Kernel[0], kw: op.Kernel[1], sh: op.Strides[0], sw: op.Strides[1], pt: op.Pad[0], pl: op.Pad[2],
		zpIn: int8(tin.ZeroPoint)}
	mult, err := channelMultipliers(tin, tout, op.WeightScales, k.oc)
	if err != nil {
		return nil, err
	}
	lo, hi := outRange(tout, op.Activation)
	k.dh, k.dw, k.groups = max(op.Dilation[0], 1), max(op.Dilation[1], 1), max(op.Groups, 1)
	if k.general() {
		return k, k.initGeneral(op, tin, tout, mult, lo, hi)
	}
	K := k.kh * k.kw * k.c
	if k.g, err = newGemmOut(op.Weights, K, k.oc, op.Bias, tin.ZeroPoint, mult, tout.ZeroPoint, lo, hi); err != nil {
		return nil, err
	}
	k.g.g.SetThreads(it.threads)
	k.padR.Threads = it.threads
	k.lda = qkernels.RowStride(K)
	k.padRow = make([]uint8, k.kw*k.c)
	for i := range k.padRow {
		k.padRow[i] = uint8(k.zpIn) ^ 0x80
	}
	k.fill = k.fillRows
	if k.initDirect(); k.direct {
		return k, nil
	}
	pointwise := k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 && k.pl == 0
	if k.kw*k.c < 32 && !pointwise {
		k.padded = true
		k.hp, k.wp = (k.oh-1)*k.sh+k.kh, (k.ow-1)*k.sw+k.kw
		k.fillPad = k.fillPadded
		k.padRowsFn = k.padRows
	}
	return k, nil
}

// shareWith returns this op's kernel for sub, sharing the packed weights.
func (k *convKernel) shareWith(sub *Interpreter) kernel {
	if k.general() {
		c := &convKernel{it: sub, in: k.in, out: k.out, h: k.h, w: k.w, c: k.c, oh: k.oh, ow: k.ow, oc: k.oc,
			kh: k.kh, kw: k.kw, sh: k.sh, sw: k.sw, pt: k.pt, pl: k.pl, zpIn: k.zpIn, lda: k.lda, padRow: k.padRow,
			dh: k.dh, dw: k.dw, groups: k.groups}
		for gi, gr := range k.grp {
			c.grp = append(c.grp, convGroup{g: gr.g.shared(sub.threads), fill: c.groupFill(gi)})
		}
		return c
	}
	c := &convKernel{it: sub, in: k.in, out: k.out, h: k.h, w: k.w, c: k.c, oh: k.oh, ow: k.ow, oc: k.oc,
		kh: k.kh, kw: k.kw, sh: k.sh, sw: k.sw, pt: k.pt, pl: k.pl, zpIn: k.zpIn, lda: k.lda, padRow: k.padRow,
		g: k.g.shared(sub.threads), padded: k.padded, hp: k.hp, wp: k.wp, direct: k.direct}
	if k.fa != nil {
		c.fuse(k.fa)
	}
	c.padR.Threads = sub.threads
	c.fill = c.fillRows
	if c.direct {
		c.padRowsFn = c.padRows
		c.setDirectTiles()
	} else if c.padded {
		c.fillPad, c.padRowsFn = c.fillPadded, c.padRows
	}
	return c
}

func (k *convKernel) alloc(n int) {
	if k.padded {
		need := n*k.hp*k.wp*k.c + qkernels.CopySlack
		if k.direct {
			need += k.directSlack()
		}
		if len(k.xp) < need {
			k.xp = make([]uint8, need)
			for i := range k.xp {
				k.xp[i] = k.padRow[0] // the border; run packs the image inside it
			}
		}
	}
}

func (k *convKernel) run(n int) {
	k.x = k.it.i8[k.in]
	if k.general() {
		out, ocg := k.it.i8[k.out], k.oc/k.groups
		for gi, gr := range k.grp {
			gr.g.runStrided(gr.fill, n*k.oh*k.ow, out[gi*ocg:], k.oc)
		}
		k.x = nil
		return
	}
	if k.direct {
		k.runDirect(n)
		k.x = nil
		return
	}
	fill := k.fill
	if k.padded {
		k.alloc(n) // no-op once Allocate sized it
		k.padR.For(n*k.h, max(1, 4096/(k.w*k.c)), k.padRowsFn)
		fill = k.fillPad
	}
	k.g.run(fill, n*k.oh*k.ow, k.it.i8[k.out])
	k.x = nil
}

// padRows packs image rows [lo, hi) (row = b*H + y) into the padded
// copy; its border was filled with the zero point (XOR 0x80) when it was
// allocated and is never written again.
func (k *convKernel) padRows(_, lo, hi int) {
	C, rowLen := k.c, k.wp*k.c
	n := max(0, min(k.w, k.wp-k.pl)) * C // the image columns that windows read
	for r := lo; r < hi; r++ {
		b, y := r/k.h, r%k.h
		if y+k.pt >= k.hp {
			continue // below every window
		}
		d := (b*k.hp+y+k.pt)*rowLen + k.pl*C
		qkernels.PackRow(k.xp[d:d+n], k.x[r*k.w*C:r*k.w*C+n])
	}
}

// fillPadded is fillRows for short window rows, from the padded copy:
// each window row is moved 8 bytes at a time, in order, so a move's
// overrun lands in bytes that the next move (or row) rewrites, or in the
// row padding and slack that qkernels.Gemm ignores.
func (k *convKernel) fillPadded(dst []uint8, i0, n int) {
	var offs [qkernels.MR]int
	C := k.c
	ox, oy, b := i0%k.ow, (i0/k.ow)%k.oh, i0/(k.ow*k.oh)
	for r := 0; r < n; r, ox = r+1, ox+1 {
		if ox == k.ow {
			ox, oy = 0, oy+1
			if oy == k.oh {
				oy, b = 0, b+1
			}
		}
		offs[r] = ((b*k.hp+oy*k.sh)*k.wp + ox*k.sw) * C
	}
	qkernels.CopyWindows(dst, k.lda, k.xp, offs[:n], k.kh, k.kw*C, k.wp*C)
}

// fillRows writes im2col rows [i0, i0+n) into dst (stride lda, XOR 0x80).
// A window row inside the input is one contiguous run of kw*C bytes.
func (k *convKernel) fillRows(dst []uint8, i0, n int) {
	C, rowLen := k.c, k.kw*k.c
	if k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 && k.pl == 0 && k.oh == k.h && k.ow == k.w {
		// Pointwise: the rows are the input's pixels.
		if k.lda == C {
			qkernels.PackRow(dst[:n*C], k.x[i0*C:(i0+n)*C])
			return
		}
		for r := 0; r < n; r++ {
			qkernels.PackRow(dst[r*k.lda:], k.x[(i0+r)*C:(i0+r+1)*C])
		}
		return
	}
	ox, oy, b := i0%k.ow, (i0/k.ow)%k.oh, i0/(k.ow*k.oh)
	for r := 0; r < n; r, ox = r+1, ox+1 {
		if ox == k.ow {
			ox, oy = 0, oy+1
			if oy == k.oh {
				oy, b = 0, b+1
			}
		}
		row := dst[r*k.lda:]
		x0 := ox*k.sw - k.pl
		y0 := oy*k.sh - k.pt
		if rowLen >= 32 && y0 >= 0 && y0+k.kh <= k.h && x0 >= 0 && x0+k.kw <= k.w {
			// The whole window inside the image: KH runs in one call.
			qkernels.PackSegments(row, k.x[((b*k.h+y0)*k.w+x0)*C:], rowLen, k.w*C, k.kh)
			continue
		}
		for ky := 0; ky < k.kh; ky++ {
			seg := row[ky*rowLen : (ky+1)*rowLen]
			y := oy*k.sh - k.pt + ky
			switch {
			case y < 0 || y >= k.h:
				copy(seg, k.padRow)
			case x0 >= 0 && x0+k.kw <= k.w:
				base := ((b*k.h+y)*k.w + x0) * C
				if rowLen < 32 { // a first layer's few channels: no call
					src := k.x[base : base+rowLen]
					for i, v := range src {
						seg[i] = uint8(v) ^ 0x80
					}
				} else {
					qkernels.PackRow(seg, k.x[base:base+rowLen])
				}
			default:
				for kx := 0; kx < k.kw; kx++ {
					xx := x0 + kx
					if xx < 0 || xx >= k.w {
						copy(seg[kx*C:(kx+1)*C], k.padRow)
					} else {
						base := ((b*k.h+y)*k.w + xx) * C
						qkernels.PackRow(seg[kx*C:], k.x[base:base+C])
					}
				}
			}
		}
	}
}

// general reports whether the op takes the general path: a dilation or
// channel groups.
func (k *convKernel) general() bool { return k.dh > 1 || k.dw > 1 || k.groups > 1 }

// initGeneral prepares the general path: for each of the G channel groups,
// the kernel columns of its OC/G filters, (KH*KW*C/G, OC/G), packed with
// their biases and multipliers, and its fill function.
func (k *convKernel) initGeneral(op *Op, tin, tout *Tensor, mult []qmath.Multiplier, lo, hi int32) error {
	G := k.groups
	cg, ocg := k.c/G, k.oc/G
	kg := k.kh * k.kw * cg
	k.lda = qkernels.RowStride(kg)
	k.padRow = make([]uint8, cg)
	for i := range k.padRow {
		k.padRow[i] = uint8(k.zpIn) ^ 0x80
	}
	k.grp = make([]convGroup, G)
	for gi := range k.grp {
		w := make([]int8, kg*ocg)
		for r := 0; r < kg; r++ {
			copy(w[r*ocg:(r+1)*ocg], op.Weights[r*k.oc+gi*ocg:r*k.oc+(gi+1)*ocg])
		}
		var bias []int32
		if op.Bias != nil {
			bias = op.Bias[gi*ocg : (gi+1)*ocg]
		}
		g, err := newGemmOut(w, kg, ocg, bias, tin.ZeroPoint, mult[gi*ocg:(gi+1)*ocg], tout.ZeroPoint, lo, hi)
		if err != nil {
			return err
		}
		g.g.SetThreads(k.it.threads)
		k.grp[gi] = convGroup{g: g, fill: k.groupFill(gi)}
	}
	return nil
}

// groupFill returns the fill function of channel group gi.
func (k *convKernel) groupFill(gi int) func(dst []uint8, i0, n int) {
	return func(dst []uint8, i0, n int) { k.fillGeneral(dst, i0, n, gi) }
}

// fillGeneral writes the im2col rows [i0, i0+n) of channel group gi into
// dst (stride lda, XOR 0x80): row (b, oy, ox) holds, in (ky, kx, c)
// order, input (b, oy*SH-PT+ky*DH, ox*SW-PL+kx*DW, gi*C/G+c), the zero
// point in the padding.
func (k *convKernel) fillGeneral(dst []uint8, i0, n, gi int) {
	C, cg := k.c, k.c/k.groups
	c0 := gi * cg
	ox, oy, b := i0%k.ow, (i0/k.ow)%k.oh, i0/(k.ow*k.oh)
	for r := 0; r < n; r, ox = r+1, ox+1 {
		if ox == k.ow {
			ox, oy = 0, oy+1
			if oy == k.oh {
				oy, b = 0, b+1
			}
		}
		row := dst[r*k.lda:]
		for ky := 0; ky < k.kh; ky++ {
			y := oy*k.sh - k.pt + ky*k.dh
			for kx := 0; kx < k.kw; kx++ {
				seg := row[(ky*k.kw+kx)*cg : (ky*k.kw+kx+1)*cg]
				x := ox*k.sw - k.pl + kx*k.dw
				if y < 0 || y >= k.h || x < 0 || x >= k.w {
					copy(seg, k.padRow)
					continue
				}
				base := ((b*k.h+y)*k.w+x)*C + c0
				qkernels.PackRow(seg, k.x[base:base+cg])
			}
		}
	}
}
