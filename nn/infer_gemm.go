package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// gemmOp is a Conv2D (one group, no dilation, any padding including a
// fused ZeroPadding2D) or a Dense layer with its epilogue, computed by
// blocks of output rows (pixels): the block's im2col (none for a 1x1
// stride-1 convolution or a Dense, whose input rows are the product's
// rows), its product with the weights (kernels.SgemmPacked: read in place,
// or packed once per call), and the epilogue on the rows while they are in
// the cache.
//
//	out (N*P, F) = epilogue(col (N*P, K) x w (K, F) + bias)
type gemmOp struct {
	conv      *Conv2D
	dense     *Dense
	g         ops.Geom // the convolution's geometry (padding fused)
	in, out   int
	K, F, P   int // product depth, columns, rows per sample
	pointwise bool
	ep        epilogue

	pb        kernels.PackedB
	rowKernel bool // the call's product has fewer rows than a tile
	packed    bool // pb holds this call's packed weights
	rb        int  // rows per block
	rbPar     int  // rows per block of the running runPar

	// The running runPar: its share, and the shared im2col of a product
	// split by columns.
	sh                    *inferShare
	colAll                []float32
	blockFn, colFn, im2Fn func(part, lo, hi int)
}

// init binds the method values runPar hands to the workers.
func (o *gemmOp) init() {
	o.blockFn, o.colFn, o.im2Fn = o.blocksPart, o.colsPart, o.im2colPart
}

// weights returns the layer's kernel (K, F) and bias (nil: none).
func (o *gemmOp) weights() (w, b []float32) {
	if o.conv != nil {
		w = o.conv.Kernel.Value.Data
		if o.conv.Bias != nil {
			b = o.conv.Bias.Value.Data
		}
		return w, b
	}
	w = o.dense.Kernel.Value.Data
	if o.dense.Bias != nil {
		b = o.dense.Bias.Value.Data
	}
	return w, b
}

func (o *gemmOp) serial() bool { return true }

func (o *gemmOp) slots() ([]int, int) {
	if o.ep.res >= 0 {
		return []int{o.in, o.ep.res}, o.out
	}
	return []int{o.in}, o.out
}

// gemmBlockFloats bounds a block's im2col matrix (192K floats, 768 KB: a
// core's L2 share) and gemmBlockRows the rows of a block of a 1x1
// convolution; a block has at least 96 rows (a tile kernel's row block)
// when the weights are too large for the cache, so that each pass over
// them serves that many rows.
const (
	gemmBlockFloats = 192 << 10
	gemmBlockRows   = 256
)

// prepare decides the call's kernel (the row kernel for fewer rows than a
// tile, as Sgemm would over the whole batch), the block size, the
// normalization, and returns the packing parts (none for the row kernel,
// which reads the weights in place).
func (o *gemmOp) prepare(_ *inferPlan, n int) int {
	w, _ := o.weights()
	o.rowKernel = n*o.P < kernels.TileRows(o.F)
	o.ep.prepare()
	switch {
	case o.pointwise:
		o.rb = gemmBlockRows
	default:
		o.rb = max(16, gemmBlockFloats/o.K)
		if o.K*o.F > 64<<10 {
			o.rb = max(o.rb, 96)
		}
	}
	o.rb = (o.rb + 11) / 12 * 12
	parts := o.pb.PrepareRows(n*o.P, false, o.K, o.F, w, o.F)
	o.packed = !o.rowKernel
	if o.rowKernel {
		return 0
	}
	return parts
}

func (o *gemmOp) pack(i int) { o.pb.Pack(i) }

// run computes the share's rows block by block on this goroutine.
func (o *gemmOp) run(sh *inferShare, th *inferThread) {
	M := sh.n() * o.P
	for r0 := 0; r0 < M; r0 += o.rb {
		o.block(sh, th, r0, min(M, r0+o.rb))
	}
}

// runPar splits the product across threads, in pieces that they claim in
// turn (dynFor): by blocks of rows (at least three per thread, smaller
// than run's if need be), or, when the weights are larger than the input
// rows (F > rows: a small image at batch 1, a Dense), by columns, each
// thread multiplying the shared im2col by its columns of the weights (so
// that each reads only its share of them). A product too small to pay for
// a hand-off runs on the calling thread.
func (o *gemmOp) runPar(p *inferPlan, sh *inferShare) {
	o.sh = sh
	defer func() { o.sh = nil }()
	M := sh.n() * o.P
	t := kernels.Threads()
	colParts := (o.F + kernels.PackedColStep - 1) / kernels.PackedColStep
	if t < 2 || M*o.K*o.F < 2*inferMinPartWork {
		o.run(sh, p.threads[0])
		return
	}
	if o.F <= M || colParts < 2 {
		// Blocks of rows: run's, or smaller so that every thread gets
		// three, claimed in turn (dynFor).
		o.rbPar = min(o.rb, max(12, (M+3*t-1)/(3*t)))
		o.rbPar = (o.rbPar + 11) / 12 * 12
		nb := (M + o.rbPar - 1) / o.rbPar
		g := max(1, inferMinPartWork/max(1, o.rbPar*o.K*o.F))
		p.dynFor(nb, g, g, o.blockFn)
		return
	}
	if !o.pointwise {
		if cap(o.colAll) < M*o.K {
			o.colAll = make([]float32, M*o.K)
		}
		o.colAll = o.colAll[:M*o.K]
		p.runner.For(M, max(1, (16<<10)/o.K), o.im2Fn)
	}
	g := max(1, inferMinPartWork/max(1, M*o.K*kernels.PackedColStep))
	p.dynFor(colParts, g, dynStep(colParts, g), o.colFn)
}

// inferMinPartWork is the fewest multiply-adds a product hands to another
// thread (a few microseconds of work, more than a hand-off costs on a busy
// virtual machine); a smaller product runs on the calling thread.
const inferMinPartWork = 1 << 18

// blocksPart computes blocks [lo, hi) of the running runPar, of rbPar
// rows.
func (o *gemmOp) blocksPart(part, lo, hi int) {
	M := o.sh.n() * o.P
	th := o.sh.plan.threads[part]
	for b := lo; b < hi; b++ {
		o.block(o.sh, th, b*o.rbPar, min(M, (b+1)*o.rbPar))
	}
}

// im2colPart writes rows [lo, hi) of the shared im2col matrix.
func (o *gemmOp) im2colPart(_, lo, hi int) {
	im2colRows(o.g, o.sh.data(o.in), o.colAll[lo*o.K:hi*o.K], lo, hi)
}

// colsPart computes column steps [lo, hi) of every row, then their
// epilogue.
func (o *gemmOp) colsPart(_, lo, hi int) {
	sh := o.sh
	M := sh.n() * o.P
	j0, j1 := lo*kernels.PackedColStep, min(o.F, hi*kernels.PackedColStep)
	a := o.colAll
	if o.pointwise {
		a = sh.data(o.in)
	}
	out := sh.data(o.out)
	kernels.SgemmPackedCols(false, M, a, o.K, &o.pb, out, o.F, o.rowKernel, j0, j1)
	_, b := o.weights()
	o.ep.apply(sh, b, out, 0, M, j0, j1, o.F)
}

// block computes rows [r0, r1): im2col (unless pointwise), product,
// epilogue.
func (o *gemmOp) block(sh *inferShare, th *inferThread, r0, r1 int) {
	x, out := sh.data(o.in), sh.data(o.out)
	var a []float32
	if o.pointwise {
		a = x[r0*o.K : r1*o.K]
	} else {
		a = th.colBuf((r1 - r0) * o.K)
		im2colRows(o.g, x, a, r0, r1)
	}
	kernels.SgemmPackedCols(false, r1-r0, a, o.K, &o.pb, out[r0*o.F:r1*o.F], o.F, o.rowKernel, 0, o.F)
	_, b := o.weights()
	o.ep.apply(sh, b, out, r0, r1, 0, o.F, o.F)
}

// im2colRows writes the im2col rows of output pixels [r0, r1) (numbered
// n*OH*OW + oh*OW + ow over the images of in) to col, row r at
// col[(r-r0)*K:]: the taps in (kh, kw, c) order, zeros outside the image,
// ops.Im2col's layout for one group without dilation.
func im2colRows(g ops.Geom, in, col []float32, r0, r1 int) {
	C, W := g.C, g.W
	K, rowLen := g.KH*g.KW*C, g.KW*C
	P := g.OH * g.OW
	// The pixel (n, oh, ow) of row r, advanced row by row (no division
	// per row).
	n, q := r0/P, r0%P
	oh, ow := q/g.OW, q%g.OW
	for r := r0; r < r1; r, ow = r+1, ow+1 {
		if ow == g.OW {
			ow, oh = 0, oh+1
			if oh == g.OH {
				oh, n = 0, n+1
			}
		}
		dst := col[(r-r0)*K : (r-r0+1)*K]
		img := in[n*g.H*W*C : (n+1)*g.H*W*C]
		iw0 := ow*g.SW - g.PadL
		inside := iw0 >= 0 && iw0+g.KW <= W
		for kh := 0; kh < g.KH; kh++ {
			ih := oh*g.SH - g.PadT + kh
			d := dst[kh*rowLen : (kh+1)*rowLen]
			switch {
			case ih < 0 || ih >= g.H:
				clear(d)
			case inside && rowLen == 9:
				// A window row of 3 taps (or 7, below) of 3 channels
				// (a first layer's): one fixed-size copy instead of a
				// call to copy or a loop.
				o := (ih*W + iw0) * C
				*(*[9]float32)(d) = *(*[9]float32)(img[o : o+9])
			case inside && rowLen == 21:
				o := (ih*W + iw0) * C
				*(*[21]float32)(d) = *(*[21]float32)(img[o : o+21])
			case inside && rowLen <= 32:
				// A short row: a loop instead of a call to copy.
				src := img[(ih*W+iw0)*C : (ih*W+iw0)*C+rowLen]
				for i, v := range src {
					d[i] = v
				}
			case inside:
				copy(d, img[(ih*W+iw0)*C:(ih*W+iw0+g.KW)*C])
			default:
				for kw := 0; kw < g.KW; kw++ {
					seg := d[kw*C : (kw+1)*C]
					if iw := iw0 + kw; iw < 0 || iw >= W {
						clear(seg)
					} else {
						copy(seg, img[(ih*W+iw)*C:(ih*W+iw+1)*C])
					}
				}
			}
		}
	}
}

// prepare sets the normalization from the moving statistics (as the
// layer's inference Forward does, the same bits).
func (ep *epilogue) prepare() {
	if bn := ep.bn; bn != nil {
		ep.st.FromMoving(bn.Gamma.Value.Data, bn.MovingMean.Value.Data, bn.MovingVariance.Value.Data, bn.Epsilon)
	}
}

// apply runs the epilogue on rows [r0, r1), columns [j0, j1) of out (row
// stride F): + bias (nil: none), then the normalization and act1 (act1
// alone without one), then the residual and act2; the expressions and
// order of the layers' Forward (bias add, kernels.NormAct, Add, ReLU).
func (ep *epilogue) apply(sh *inferShare, bias, out []float32, r0, r1, j0, j1, F int) {
	full := j0 == 0 && j1 == F
	act1 := ep.act1
	if bias != nil && r1 > r0 {
		// The bias add, and the activation with it unless a normalization
		// comes between them (kernels.BiasAct: the same two steps).
		act := kernels.ActLinear
		if ep.bn == nil {
			act, act1 = act1, kernels.ActLinear
		}
		kernels.BiasAct(out[r0*F+j0:], r1-r0, F, bias[j0:j1], act)
	}
	switch {
	case ep.bn != nil:
		np := kernels.NormParams{Center: ep.st.Center[j0:], Scale: ep.st.Scale[j0:], Beta: ep.bn.Beta.Value.Data[j0:], Act: ep.act1}
		if full {
			o := out[r0*F : r1*F]
			kernels.NormAct(o, o, r1-r0, F, np)
		} else {
			for r := r0; r < r1; r++ {
				o := out[r*F+j0 : r*F+j1]
				kernels.NormAct(o, o, 1, j1-j0, np)
			}
		}
	case act1 != kernels.ActLinear:
		if full {
			o := out[r0*F : r1*F]
			kernels.ActRows(o, o, act1)
		} else {
			for r := r0; r < r1; r++ {
				o := out[r*F+j0 : r*F+j1]
				kernels.ActRows(o, o, act1)
			}
		}
	}
	if ep.res < 0 {
		return
	}
	res := sh.data(ep.res)
	if full {
		ep.addRes(res[r0*F:r1*F], out[r0*F:r1*F])
		return
	}
	for r := r0; r < r1; r++ {
		ep.addRes(res[r*F+j0:r*F+j1], out[r*F+j0:r*F+j1])
	}
}

// addRes sets o = act2(res + o), or act2(o + res) when the op's output is
// the Add's first input.
func (ep *epilogue) addRes(res, o []float32) {
	if ep.resFirst {
		kernels.AddAct(res, o, o, ep.act2)
	} else {
		kernels.AddAct(o, res, o, ep.act2)
	}
}
