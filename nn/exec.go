package nn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// withN formats a per-sample shape with a leading batch dimension "N".
func withN(s tensor.Shape) string {
	var b strings.Builder
	b.WriteString("(N")
	for _, d := range s {
		fmt.Fprintf(&b, ", %d", d)
	}
	b.WriteByte(')')
	return b.String()
}

// checkInputs validates the tensors given to Forward: one per input, each
// (batch, per-sample shape...), all with the same batch size.
func (m *Model) checkInputs(in []*tensor.Tensor) error {
	if len(in) != len(m.inputs) {
		return fmt.Errorf("nn: model %q takes %d inputs, got %d", m.name, len(m.inputs), len(in))
	}
	for i, t := range in {
		want := m.inputs[i].shape
		if t == nil {
			return fmt.Errorf("input %d: nil tensor, want shape %s", i, withN(want))
		}
		ok := len(t.Shape) == len(want)+1 && t.Shape[0] > 0 && t.Shape[1:].Equal(want) && len(t.Data) == t.Shape.Size()
		if !ok {
			got := "()"
			if len(t.Shape) > 0 {
				got = withN(t.Shape[1:])
				if t.Shape[0] <= 0 {
					got = t.Shape.String()
				}
			}
			return fmt.Errorf("input %d: got shape %s, want %s", i, got, withN(want))
		}
		if t.Shape[0] != in[0].Shape[0] {
			return fmt.Errorf("input %d: batch size %d differs from input 0's %d", i, t.Shape[0], in[0].Shape[0])
		}
	}
	return nil
}

// Forward runs the model on a batch: in holds one tensor per input, each
// (N, per-sample shape...). It returns one tensor per output. The tensors
// and the slice are owned by the model and its layers, read-only, and valid
// until the next Forward. A nil Context means inference.
//
// In inference (a nil or non-training Context), a model whose layers are
// all built-in types (or composites of them) runs its inference plan
// (infer.go): fused layers,
// reused buffers, the batch split across threads, no allocation per call,
// the values of the layers run one by one (within float rounding where
// infer.go says so).
func (m *Model) Forward(c *Context, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := m.checkInputs(in); err != nil {
		return nil, err
	}
	if c == nil {
		m.inferCtx = Context{Step: m.stepCount}
		c = &m.inferCtx
	}
	m.infer.replay = false
	if !c.Training {
		if p := m.inferPlanOf(); p != nil {
			outs := p.forward(c, in)
			m.infer.replay, m.infer.ctx = true, c
			m.infer.ins = append(m.infer.ins[:0], in...)
			m.forwarded = true
			return outs, nil
		}
	}
	return m.forwardLayers(c, in)
}

// forwardLayers is Forward running every layer's own Forward in turn (the
// BatchNormalization fusions of fusion.go aside), with c not nil.
func (m *Model) forwardLayers(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	n := in[0].Shape[0]
	copy(m.vals, in)
	base := len(m.inputs)
	for k := range m.steps {
		st := &m.steps[k]
		for j, s := range st.inSlots {
			st.ins[j] = m.vals[s]
		}
		var out *tensor.Tensor
		switch {
		case st.fused:
			// Computed by the BatchNormalization before it.
			m.vals[base+k] = m.vals[st.inSlots[0]]
			continue
		case st.pool != nil:
			// The BN slot holds the pooling's output, which the
			// activation and pooling steps pass on.
			out = st.bn.forwardActPool(c, st.ins[0], st.act.fusedKind(), st.pool)
		case st.act != nil:
			// The BN slot holds the activation's output: only the
			// activation reads it, and Backward only needs its shape.
			out = st.act.fusedOut(st.ins[0])
			st.bn.forwardAct(c, st.ins[0], st.act.fusedKind(), out)
		default:
			out = st.layer.Forward(c, st.ins)
			if out == nil {
				if err := layerErr(st.layer); err != nil {
					return nil, err
				}
			}
		}
		want := st.node.shape
		if st.poolNode != nil {
			want = st.poolNode.shape
		}
		if out == nil || len(out.Shape) != len(want)+1 || out.Shape[0] != n || !out.Shape[1:].Equal(want) || len(out.Data) != out.Shape.Size() {
			got := "nil"
			if out != nil {
				got = out.Shape.String()
			}
			return nil, fmt.Errorf("nn: layer %s returned shape %s from Forward, want %s with N = %d", describe(st.layer), got, withN(want), n)
		}
		m.vals[base+k] = out
	}
	for i, s := range m.outSlots {
		m.outs[i] = m.vals[s]
	}
	m.forwarded = true
	return m.outs, nil
}

// Backward propagates dL/doutput (one tensor per output, shaped like
// Forward's result) back through the last Forward, in reverse topological
// order, leaving dL/dparam in every trainable Param.Grad. Where a tensor
// feeds several layers, the gradients flowing back into it are summed (in a
// fixed order) in buffers the model reuses across steps.
func (m *Model) Backward(c *Context, dOut ...*tensor.Tensor) error {
	_, err := m.backward(c, dOut, false)
	return err
}

// backward is Backward; with inGrads it also computes and returns dL/din
// for every model input (owned by the layers or the model, valid until the
// next Backward), as a model used as a layer needs (composite.go).
func (m *Model) backward(c *Context, dOut []*tensor.Tensor, inGrads bool) ([]*tensor.Tensor, error) {
	if !m.forwarded {
		return nil, errors.New("nn: Backward called before Forward")
	}
	if len(dOut) != len(m.outputs) {
		return nil, fmt.Errorf("nn: model %q has %d outputs, Backward got %d gradients", m.name, len(m.outputs), len(dOut))
	}
	if m.infer.replay {
		// The inference plan keeps none of the layers' state: run their
		// own Forward on the same inputs first.
		m.infer.replay = false
		if _, err := m.forwardLayers(m.infer.ctx, m.infer.ins); err != nil {
			return nil, err
		}
	}
	for i, d := range dOut {
		want := m.outs[i].Shape
		if d == nil || !d.Shape.Equal(want) || len(d.Data) != want.Size() {
			got := "nil"
			if d != nil {
				got = d.Shape.String()
			}
			return nil, fmt.Errorf("nn: gradient %d has shape %s, want %s", i, got, want)
		}
	}
	if c == nil {
		m.inferCtx = Context{Step: m.stepCount}
		c = &m.inferCtx
	}
	clear(m.gradCnt)
	clear(m.gradSrc)
	for i, d := range dOut {
		m.addGrad(m.outSlots[i], d)
	}
	base := len(m.inputs)
	for k := len(m.steps) - 1; k >= 0; k-- {
		st := &m.steps[k]
		g := m.gradSrc[base+k]
		if g == nil {
			continue // unreachable: every layer leads to an output
		}
		var dIns []*tensor.Tensor
		switch {
		case st.fused:
			// The BatchNormalization before it masks g itself.
			m.addGrad(st.inSlots[0], g)
			continue
		case st.pool != nil:
			dIns = st.bn.backwardActPool(g, st.act.fusedKind(), st.pool)
		case st.act != nil:
			dIns = st.bn.backwardAct(g, st.act.fusedKind())
		case st.frozenIn && !inGrads && !anyTrainable(st.layer.Params()):
			// A frozen composite reading only model inputs: nothing
			// to learn in it, and its input gradient is dropped.
			continue
		case st.noInGrad != nil && !inGrads:
			dIns = st.noInGrad.backwardParams(g)
		default:
			dIns = st.layer.Backward(c, g)
			if dIns == nil {
				if err := layerErr(st.layer); err != nil {
					return nil, err
				}
			}
		}
		if len(dIns) != len(st.inSlots) {
			return nil, fmt.Errorf("nn: layer %s returned %d gradients from Backward for %d inputs", describe(st.layer), len(dIns), len(st.inSlots))
		}
		for j, s := range st.inSlots {
			if s < base && !inGrads {
				continue // model inputs need no gradient
			}
			d := dIns[j]
			if d == nil || !d.Shape.Equal(m.vals[s].Shape) {
				got := "nil"
				if d != nil {
					got = d.Shape.String()
				}
				return nil, fmt.Errorf("nn: layer %s returned a gradient of shape %s for input %d, want %s", describe(st.layer), got, j, m.vals[s].Shape)
			}
			m.addGrad(s, d)
		}
	}
	if !inGrads {
		return nil, nil
	}
	return m.gradSrc[:base], nil
}

// addGrad adds a gradient contribution to slot s. The first contribution
// is used as is (no copy); the second is summed with it into the slot's
// model-owned buffer, which later ones are added to. The sums are
// element-wise (one float32 add per value, in any order the same bits),
// so they run kernels.AddAct split across the threads (gradSum); they stay
// allocation-free.
func (m *Model) addGrad(s int, d *tensor.Tensor) {
	switch m.gradCnt[s] {
	case 0:
		m.gradSrc[s] = d
	case 1:
		buf := tensor.Ensure(&m.gradBuf[s], d.Shape...)
		m.gradAdd.run(m.gradSrc[s].Data, d.Data, buf.Data)
		m.gradSrc[s] = buf
	default:
		dst := m.gradSrc[s].Data
		m.gradAdd.run(dst, d.Data, dst)
	}
	m.gradCnt[s]++
}

// gradSum is Model.addGrad's sum y = a + b of two gradients, split across
// the threads in blocks of gradSumGrain values: each value is one float32
// add (kernels.AddAct, ActLinear), so the split does not change the bits
// (docs/DESIGN.md, Training kernels).
type gradSum struct {
	a, b, y []float32
	fn      func(lo, hi int) // part, made once
}

// gradSumGrain is the fewest values a thread's share of a gradient sum
// has: below it the sum runs on the calling goroutine.
const gradSumGrain = 16 << 10

// run writes y[i] = a[i] + b[i] for i < len(y); a and b hold at least
// len(y) values, and y may be a or b.
func (g *gradSum) run(a, b, y []float32) {
	if g.fn == nil {
		g.fn = g.part
	}
	g.a, g.b, g.y = a, b, y
	kernels.ParallelFor(len(y), gradSumGrain, g.fn)
	g.a, g.b, g.y = nil, nil, nil
}

// part sums values [lo, hi).
func (g *gradSum) part(lo, hi int) {
	kernels.AddAct(g.a[lo:hi], g.b[lo:hi], g.y[lo:hi], kernels.ActLinear)
}
