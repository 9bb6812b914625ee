package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// The element-wise, depthwise, padding, pooling and layer-backed ops of
// the inference plan (infer.go). Each computes what its layers' Forward
// computes, with the same expressions in the same order.

// rowsOp is the part of an op whose work is a range of rows it computes
// with rows(sh, th, lo, hi): runPar splits the rows across threads.
type rowsOp struct {
	sh    *inferShare
	rows  func(sh *inferShare, th *inferThread, lo, hi int)
	fn    func(part, lo, hi int)
	grain int // fewest rows per part
}

// bind sets the op's row function.
func (r *rowsOp) bind(rows func(sh *inferShare, th *inferThread, lo, hi int), grain int) {
	r.rows, r.grain = rows, max(1, grain)
	r.fn = r.part
}

// part computes rows [lo, hi) of the running runPar.
func (r *rowsOp) part(part, lo, hi int) { r.rows(r.sh, r.sh.plan.threads[part], lo, hi) }

// par splits n rows of share sh across threads, in pieces of at least
// grain rows that they claim in turn (dynFor).
func (r *rowsOp) par(p *inferPlan, sh *inferShare, n int) {
	r.sh = sh
	p.dynFor(n, r.grain, dynStep(n, r.grain), r.fn)
	r.sh = nil
}

// grainFor is the fewest rows per part for rows of work values each:
// about 32K values, so that a hand-off pays.
func grainFor(work int) int { return max(1, (32<<10)/max(1, work)) }

// dwOp is a DepthwiseConv2D (depth multiplier 1, no dilation, a fused
// ZeroPadding2D's padding included) with its epilogue, by output rows.
type dwOp struct {
	opBase
	rowsOp
	l       *DepthwiseConv2D
	g       kernels.DWGeom
	in, out int
	ep      epilogue
}

func (o *dwOp) init() { o.bind(o.compute, grainFor(o.g.OW*o.g.C*o.g.KH*o.g.KW/4)) }

func (o *dwOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *dwOp) prepare(*inferPlan, int) int {
	o.ep.prepare()
	return 0
}

func (o *dwOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, sh.n()*o.g.OH) }

func (o *dwOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, sh.n()*o.g.OH) }

// compute computes output rows [lo, hi) (numbered n*OH+oh), a few at a
// time so that the epilogue reads them from the cache.
func (o *dwOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	g := o.g
	x, out := sh.data(o.in), sh.data(o.out)
	w := o.l.DepthwiseKernel.Value.Data
	var b []float32
	if o.l.Bias != nil {
		b = o.l.Bias.Value.Data
	}
	step := max(1, (16<<10)/(g.OW*g.C))
	for r0 := lo; r0 < hi; r0 += step {
		r1 := min(hi, r0+step)
		kernels.DepthwiseRows(g, x, w, b, out, r0, r1)
		o.ep.apply(sh, nil, out, r0*g.OW, r1*g.OW, 0, g.C, g.C)
	}
}

// normOp is a BatchNormalization that follows no fused op (after an Add,
// say), with the activation after it, by rows of C channels.
type normOp struct {
	opBase
	rowsOp
	in, out, C int
	ep         epilogue
}

func (o *normOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *normOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, grainFor(o.C))
	}
	o.ep.prepare()
	return 0
}

func (o *normOp) rowsOf(sh *inferShare) int { return len(sh.data(o.in)) / o.C }

func (o *normOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, o.rowsOf(sh)) }

func (o *normOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, o.rowsOf(sh)) }

func (o *normOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	x, y := sh.data(o.in), sh.data(o.out)
	C := o.C
	np := kernels.NormParams{Center: o.ep.st.Center, Scale: o.ep.st.Scale, Beta: o.ep.bn.Beta.Value.Data, Act: o.ep.act1}
	kernels.NormAct(x[lo*C:hi*C], y[lo*C:hi*C], hi-lo, C, np)
}

// actOp is a ReLU or ReLU6 that follows no fused op, by elements.
type actOp struct {
	opBase
	rowsOp
	in, out int
	act     kernels.Act
}

func (o *actOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *actOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, 32<<10)
	}
	return 0
}

func (o *actOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, len(sh.data(o.in))) }

func (o *actOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, len(sh.data(o.in))) }

func (o *actOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	kernels.ActRows(sh.data(o.in)[lo:hi], sh.data(o.out)[lo:hi], o.act)
}

// addOp is an Add of two or more inputs (in order, as Add.Forward) with
// the activation after it, by elements.
type addOp struct {
	opBase
	rowsOp
	ins []int
	out int
	act kernels.Act
}

func (o *addOp) slots() ([]int, int) { return o.ins, o.out }

func (o *addOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, 32<<10)
	}
	return 0
}

func (o *addOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, len(sh.data(o.out))) }

func (o *addOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, len(sh.data(o.out))) }

// compute sets y = act(((x0 + x1) + x2) + ...) over elements [lo, hi).
func (o *addOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	y := sh.data(o.out)[lo:hi]
	last := len(o.ins) - 1
	act := func(i int) kernels.Act {
		if i == last {
			return o.act
		}
		return kernels.ActLinear
	}
	kernels.AddAct(sh.data(o.ins[0])[lo:hi], sh.data(o.ins[1])[lo:hi], y, act(1))
	for i := 2; i <= last; i++ {
		kernels.AddAct(y, sh.data(o.ins[i])[lo:hi], y, act(i))
	}
}

// padOp is a ZeroPadding2D that no convolution fuses, by output rows.
type padOp struct {
	opBase
	rowsOp
	l       *ZeroPadding2D
	in, out int
}

func (o *padOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *padOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, grainFor(o.l.w*o.l.c))
	}
	return 0
}

func (o *padOp) outRows() int { return o.l.h + o.l.Padding[0] + o.l.Padding[1] }

func (o *padOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, sh.n()*o.outRows()) }

func (o *padOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, sh.n()*o.outRows()) }

// compute writes output rows [lo, hi) (numbered n*OH+y), as
// ops.ZeroPadForward does.
func (o *padOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	p := o.l.Padding
	ops.ZeroPadRows(o.l.h, o.l.w, o.l.c, p[0], p[1], p[2], p[3], sh.data(o.in), sh.data(o.out), lo, hi)
}

// maxPoolOp is a MaxPooling2D, by output rows: each window's maximum by
// kernels.MaxWindow, as the layer computes it (the winners' cells, which
// only its Backward needs, go to scratch).
type maxPoolOp struct {
	opBase
	rowsOp
	g       ops.Geom
	in, out int
}

func (o *maxPoolOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *maxPoolOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, grainFor(o.g.OW*o.g.C*o.g.KH*o.g.KW))
	}
	return 0
}

func (o *maxPoolOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, sh.n()*o.g.OH) }

func (o *maxPoolOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, sh.n()*o.g.OH) }

// compute writes output rows [lo, hi) (numbered n*OH+oh).
func (o *maxPoolOp) compute(sh *inferShare, th *inferThread, lo, hi int) {
	g := o.g
	C, W := g.C, g.W
	in, out := sh.data(o.in), sh.data(o.out)
	arg := th.argBuf(C)
	var buf [64]int32
	offs := buf[:0]
	for r := lo; r < hi; r++ {
		n, oh := r/g.OH, r%g.OH
		img := in[n*g.H*W*C : (n+1)*g.H*W*C]
		for ow := 0; ow < g.OW; ow++ {
			offs = g.WindowOffsets(offs, oh, ow)
			o0 := (r*g.OW + ow) * C
			kernels.MaxWindow(img, offs, out[o0:o0+C], arg)
		}
	}
}

// gapOp is a GlobalAveragePooling2D, by images: the pixels summed in order
// into the output, then divided by their count (ops.GlobalAvgPoolForward's
// arithmetic).
type gapOp struct {
	opBase
	rowsOp
	hw, c   int
	in, out int
}

func (o *gapOp) slots() ([]int, int) { return []int{o.in}, o.out }

func (o *gapOp) prepare(*inferPlan, int) int {
	if o.fn == nil {
		o.bind(o.compute, grainFor(o.hw*o.c))
	}
	return 0
}

func (o *gapOp) run(sh *inferShare, th *inferThread) { o.compute(sh, th, 0, sh.n()) }

func (o *gapOp) runPar(p *inferPlan, sh *inferShare) { o.par(p, sh, sh.n()) }

func (o *gapOp) compute(sh *inferShare, _ *inferThread, lo, hi int) {
	hw, c := o.hw, o.c
	in, out := sh.data(o.in), sh.data(o.out)
	div := float32(hw)
	for i := lo; i < hi; i++ {
		d := out[i*c : (i+1)*c]
		clear(d)
		for p := 0; p < hw; p++ {
			kernels.AddAct(d, in[(i*hw+p)*c:(i*hw+p+1)*c], d, kernels.ActLinear)
		}
		for j := range d {
			d[j] /= div
		}
	}
}

// layerOp runs a layer's own Forward on the whole batch (a built-in layer
// the plan has no op for); the output is the layer's buffer.
type layerOp struct {
	opBase
	l   Layer
	ins []int
	out int
	idx int // the op's number in the plan
}

func (o *layerOp) slots() ([]int, int) { return o.ins, o.out }

func (o *layerOp) serial() bool { return false }

func (o *layerOp) run(*inferShare, *inferThread) {
	panic("nn: a layer-backed inference op cannot compute a share of the batch")
}

func (o *layerOp) runPar(p *inferPlan, sh *inferShare) {
	args := sh.ins[o.idx]
	for i, s := range o.ins {
		args[i] = sh.vals[s]
	}
	y := o.l.Forward(sh.c, args)
	clear(args)
	sh.vals[o.out] = y
	for _, a := range p.aliases[o.out] {
		t := sh.tens[a]
		t.Data = y.Data
		sh.vals[a] = t
	}
}
