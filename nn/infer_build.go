package nn

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// inferBuilder turns a model's steps into an inference plan: it matches
// the fusions (see infer.go), emits one op per fused chain or layer, and
// plans the buffers.
type inferBuilder struct {
	m       *Model
	base    int
	readers []int  // readers of each slot: steps (once per argument) and model outputs
	reader  []int  // the last step reading each slot
	output  []bool // the slot is a model output
	done    []bool // step consumed by a fusion
	p       *inferPlan
}

// buildInferPlan returns m's inference plan, or nil if some layer is not a
// built-in type (a custom or QAT layer: the model runs its layers) nor a
// Composite whose inner model has a plan.
func buildInferPlan(m *Model) *inferPlan {
	b := &inferBuilder{m: m, base: len(m.inputs)}
	nSlots := len(m.vals)
	b.readers = make([]int, nSlots)
	b.reader = make([]int, nSlots)
	b.output = make([]bool, nSlots)
	b.done = make([]bool, len(m.steps))
	for k, st := range m.steps {
		for _, s := range st.inSlots {
			b.readers[s]++
			b.reader[s] = k
		}
	}
	for _, s := range m.outSlots {
		b.readers[s]++
		b.output[s] = true
	}
	p := &inferPlan{m: m, base: b.base, split: true}
	b.p = p
	p.shapes = make([]tensor.Shape, nSlots)
	p.canon = make([]int, nSlots)
	for i, x := range m.inputs {
		p.shapes[i] = x.shape
	}
	for k, st := range m.steps {
		p.shapes[b.base+k] = st.node.shape
	}
	for s := range p.canon {
		p.canon[s] = s
	}
	for k := range m.steps {
		if b.done[k] {
			continue
		}
		op, ok := b.emit(k)
		if !ok {
			return nil
		}
		if op != nil {
			if lo, isLayer := op.(*layerOp); isLayer {
				lo.idx = len(p.ops)
			}
			p.ops = append(p.ops, op)
			p.split = p.split && op.serial()
		}
	}
	b.planBuffers()
	for _, op := range p.ops {
		reads, w := op.slots()
		act := p.shapes[w].Size()
		for _, r := range reads {
			act += p.shapes[r].Size()
		}
		p.actFloats = max(p.actFloats, act)
		switch o := op.(type) {
		case *gemmOp:
			p.weightFloats += o.K * o.F
		case *dwOp:
			p.weightFloats += o.g.KH * o.g.KW * o.g.C
		}
	}
	p.aliases = make([][]int, nSlots)
	for s, cs := range p.canon {
		if cs != s {
			p.aliases[cs] = append(p.aliases[cs], s)
		}
	}
	p.outs = make([]*tensor.Tensor, len(m.outSlots))
	p.outTens = make([]*tensor.Tensor, len(m.outSlots))
	for i, s := range m.outSlots {
		p.outTens[i] = &tensor.Tensor{Shape: append(tensor.Shape{0}, p.shapes[s]...)}
	}
	p.shareFn = p.runShares
	p.packFn = p.packParts
	p.dynFn = p.dynPart
	return p
}

// soleReader returns the step that alone reads slot s, if s is not a
// model output and exactly one argument of one step reads it.
func (b *inferBuilder) soleReader(s int) (int, bool) {
	if s < b.base || b.readers[s] != 1 || b.output[s] {
		return 0, false
	}
	return b.reader[s], true
}

// actOf returns the fused activation of a ReLU, ReLU6 or Activation relu
// or relu6 step with one input (only the built-in types).
func actOf(l Layer) (kernels.Act, bool) {
	var a *actCore
	switch l := l.(type) {
	case *ReLU:
		a = &l.actCore
	case *ReLU6:
		a = &l.actCore
	case *Activation:
		a = &l.actCore
	default:
		return 0, false
	}
	switch a.kind {
	case actReLU:
		return kernels.ActReLU, true
	case actReLU6:
		return kernels.ActReLU6, true
	}
	return 0, false
}

// isLinear reports whether l is an Activation linear, which passes its
// input on.
func isLinear(l Layer) bool {
	a, ok := l.(*Activation)
	return ok && a.kind == actLinear
}

// epilogue is what a fused op applies to its rows after computing them:
// the BatchNormalization (nil: none) with act1 after it (or after the op
// itself without one), then the residual Add of slot res (-1: none; its
// input 0 if resFirst) and act2 after it.
type epilogue struct {
	bn       *BatchNormalization
	st       kernels.BNStats
	act1     kernels.Act
	res      int
	resFirst bool
	act2     kernels.Act
}

// chain absorbs into ep the BatchNormalization, activation and (if
// withAdd, for an op at step k) residual Add that alone read slot tail,
// marking their steps done, and returns the chain's last slot.
func (b *inferBuilder) chain(k, tail int, ep *epilogue, withAdd bool) int {
	steps := b.m.steps
	ep.res = -1
	if r, ok := b.soleReader(tail); ok {
		if bn, isBN := steps[r].layer.(*BatchNormalization); isBN && len(steps[r].inSlots) == 1 {
			ep.bn = bn
			ep.st.Plan(0, bn.ch)
			b.done[r] = true
			tail = b.base + r
		}
	}
	if r, ok := b.soleReader(tail); ok && len(steps[r].inSlots) == 1 {
		if a, isAct := actOf(steps[r].layer); isAct {
			ep.act1 = a
			b.done[r] = true
			tail = b.base + r
		}
	}
	if !withAdd {
		return tail
	}
	r, ok := b.soleReader(tail)
	if !ok {
		return tail
	}
	if _, isAdd := steps[r].layer.(*Add); !isAdd || len(steps[r].inSlots) != 2 {
		return tail
	}
	in := steps[r].inSlots
	other, first := in[0], true
	if other == tail {
		other, first = in[1], false
	}
	if other >= b.base+k || b.p.shapes[other].Size() != b.p.shapes[tail].Size() {
		return tail // computed after the op, or not the same size
	}
	ep.res, ep.resFirst = other, first
	b.done[r] = true
	tail = b.base + r
	if r2, ok := b.soleReader(tail); ok && len(steps[r2].inSlots) == 1 {
		if a, isAct := actOf(steps[r2].layer); isAct {
			ep.act2 = a
			b.done[r2] = true
			tail = b.base + r2
		}
	}
	return tail
}

// padFuses reports whether step k, the sole reader of a ZeroPadding2D
// whose input is slot in, takes the padding into its own geometry: a
// Conv2D or DepthwiseConv2D that the plan computes (one group, no
// dilation, depth multiplier 1), on an image input.
func (b *inferBuilder) padFuses(k, in int) bool {
	if len(b.p.shapes[in]) != 3 {
		return false
	}
	switch l := b.m.steps[k].layer.(type) {
	case *Conv2D:
		return l.geom.Groups() == 1 && l.geom.DH <= 1 && l.geom.DW <= 1
	case *DepthwiseConv2D:
		return l.geom.Plain()
	}
	return false
}

// padInput returns, for a convolution step k reading slot s, the
// ZeroPadding2D step that produces s and that k alone reads and fuses
// (padFuses), with its padding (top, bottom, left, right) and input slot;
// ok false if there is none.
func (b *inferBuilder) padInput(k, s int) (pad [4]int, in int, ok bool) {
	if r, sole := b.soleReader(s); !sole || r != k {
		return pad, 0, false
	}
	ps := &b.m.steps[s-b.base]
	zp, isPad := ps.layer.(*ZeroPadding2D)
	if !isPad || len(ps.inSlots) != 1 || !b.padFuses(k, ps.inSlots[0]) {
		return pad, 0, false
	}
	return zp.Padding, ps.inSlots[0], true
}

// emit returns the op for step k (and the steps it fuses), nil for a step
// that only passes its input on (an alias), and ok false if the step's
// layer is not a built-in type.
func (b *inferBuilder) emit(k int) (inferOp, bool) {
	st := &b.m.steps[k]
	p := b.p
	out := b.base + k
	in := st.inSlots
	alias := func() (inferOp, bool) {
		p.canon[out] = p.canon[in[0]]
		return nil, true
	}
	switch l := st.layer.(type) {
	case *Conv2D:
		g := l.geom
		if g.Groups() != 1 || g.DH > 1 || g.DW > 1 {
			return b.layerOp(k), true
		}
		src := in[0]
		if pad, pin, ok := b.padInput(k, in[0]); ok {
			h, w := p.shapes[pin][0], p.shapes[pin][1]
			g = ops.NewGeomPadded(0, h, w, g.C, g.KH, g.KW, g.SH, g.SW,
				g.PadT+pad[0], g.PadB+pad[1], g.PadL+pad[2], g.PadR+pad[3])
			src = pin
		}
		op := &gemmOp{conv: l, g: g, in: src, K: g.ColCols(), F: l.Filters, P: g.OutPixels(), pointwise: g.IsPointwise()}
		op.out = b.chain(k, out, &op.ep, true)
		op.init()
		return op, true
	case *Dense:
		if len(p.shapes[in[0]]) != 1 {
			return b.layerOp(k), true
		}
		op := &gemmOp{dense: l, in: in[0], K: l.in, F: l.Units, P: 1, pointwise: true}
		op.out = b.chain(k, out, &op.ep, true)
		op.init()
		return op, true
	case *DepthwiseConv2D:
		g := l.geom
		if !g.Plain() {
			return b.layerOp(k), true
		}
		src := in[0]
		dg := dwGeom(g)
		if pad, pin, ok := b.padInput(k, in[0]); ok {
			dg.H, dg.W = p.shapes[pin][0], p.shapes[pin][1]
			dg.PadT += pad[0]
			dg.PadL += pad[2]
			src = pin
		}
		op := &dwOp{l: l, g: dg, in: src}
		op.out = b.chain(k, out, &op.ep, false)
		op.init()
		return op, true
	case *BatchNormalization:
		if len(in) != 1 {
			return nil, false
		}
		op := &normOp{in: in[0], C: l.ch}
		op.ep.bn, op.ep.res = l, -1
		op.ep.st.Plan(0, l.ch)
		b.done[k] = true
		if r, ok := b.soleReader(out); ok && len(b.m.steps[r].inSlots) == 1 {
			if a, isAct := actOf(b.m.steps[r].layer); isAct {
				op.ep.act1 = a
				b.done[r] = true
				out = b.base + r
			}
		}
		op.out = out
		return op, true
	case *ReLU, *ReLU6, *Activation:
		a, ok := actOf(st.layer)
		switch {
		case ok && len(in) == 1:
			return &actOp{in: in[0], out: out, act: a}, true
		case isLinear(st.layer) && len(in) == 1:
			return alias()
		}
		return b.layerOp(k), true
	case *Add:
		op := &addOp{ins: append([]int(nil), in...), out: out}
		if r, ok := b.soleReader(out); ok && len(b.m.steps[r].inSlots) == 1 {
			if a, isAct := actOf(b.m.steps[r].layer); isAct {
				op.act = a
				b.done[r] = true
				op.out = b.base + r
			}
		}
		return op, true
	case *Flatten, *Reshape:
		return alias()
	case *Dropout:
		return alias() // inference: the identity
	case *ZeroPadding2D:
		if r, ok := b.soleReader(out); ok && b.padFuses(r, in[0]) {
			return nil, true // the convolution reading it pads as it reads
		}
		return &padOp{l: l, in: in[0], out: out}, true
	case *MaxPooling2D:
		return &maxPoolOp{g: l.geom, in: in[0], out: out}, true
	case *GlobalAveragePooling2D:
		return &gapOp{hw: l.h * l.w, c: l.c, in: in[0], out: out}, true
	case *Concatenate, *Multiply, *AveragePooling2D, *GlobalMaxPooling2D, *SeparableConv2D:
		return b.layerOp(k), true
	case Composite:
		// A composite whose inner model has a plan (built-in layers
		// only, so its Forward cannot fail) runs that plan on the whole
		// batch (docs/DESIGN.md, Subclassed and nested models).
		if in := l.Inner(); in != nil && in.inferPlanOf() != nil {
			return b.layerOp(k), true
		}
	}
	return nil, false
}

// layerOp returns an op that runs step k's layer's own Forward on the
// whole batch (the plan then splits no batch).
func (b *inferBuilder) layerOp(k int) inferOp {
	st := &b.m.steps[k]
	return &layerOp{l: st.layer, ins: append([]int(nil), st.inSlots...), out: b.base + k}
}

// planBuffers gives every value an owner: the model inputs, the layers'
// own buffers (layer-backed ops), whole-batch buffers for the model
// outputs, and for the rest numbered buffers of the shares, reused once
// every reader of their value has run (a value and the values its op reads
// never share one).
func (b *inferBuilder) planBuffers() {
	p := b.p
	nSlots := len(p.canon)
	p.owner = make([]int, nSlots)
	p.outBuf = make([][]float32, nSlots)
	last := make([]int, nSlots) // last op reading each canonical slot
	for s := range last {
		last[s] = -1
	}
	const never = int(^uint(0) >> 1)
	for i, op := range p.ops {
		reads, _ := op.slots()
		for _, s := range reads {
			last[p.canon[s]] = max(last[p.canon[s]], i)
		}
	}
	for s := range p.owner {
		p.owner[s] = ownNone
	}
	for s := 0; s < b.base; s++ {
		p.owner[s] = ownInput
	}
	for _, s := range b.m.outSlots {
		cs := p.canon[s]
		if cs >= b.base {
			p.owner[cs] = ownOut
			last[cs] = never
		}
	}
	// A layer-backed op's output may be one of its inputs (a layer that
	// returns its input): its inputs live as long as its output.
	for i := len(p.ops) - 1; i >= 0; i-- {
		if lo, isLayer := p.ops[i].(*layerOp); isLayer {
			cw := p.canon[lo.out]
			p.owner[cw] = ownLayer
			for _, s := range lo.ins {
				last[p.canon[s]] = max(last[p.canon[s]], last[cw], i)
			}
		}
	}
	var free []int // buffers free for reuse
	for i, op := range p.ops {
		_, w := op.slots()
		cw := p.canon[w]
		if p.owner[cw] == ownNone {
			size := p.shapes[cw].Size()
			// The smallest free buffer that holds it, else the largest
			// (grown), else a new one.
			best := -1
			for j, bf := range free {
				switch {
				case best < 0:
					best = j
				case p.bufSize[bf] >= size && (p.bufSize[free[best]] < size || p.bufSize[bf] < p.bufSize[free[best]]):
					best = j
				case p.bufSize[free[best]] < size && p.bufSize[bf] > p.bufSize[free[best]]:
					best = j
				}
			}
			var buf int
			if best >= 0 {
				buf = free[best]
				free = append(free[:best], free[best+1:]...)
				p.bufSize[buf] = max(p.bufSize[buf], size)
			} else {
				buf = len(p.bufSize)
				p.bufSize = append(p.bufSize, size)
			}
			p.owner[cw] = buf
			if last[cw] < 0 {
				last[cw] = i // never read: free after this op
			}
		}
		// Free the buffers whose last reader is this op (not before the
		// op's own output took one, so the two never share).
		for s := range last {
			if last[s] == i && p.owner[s] >= 0 && s >= b.base {
				free = append(free, p.owner[s])
			}
		}
	}
}
