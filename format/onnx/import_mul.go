package onnx

import (
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// mul imports Mul of two computed tensors as a goqat Multiply, which
// broadcasts as Keras does (per-sample shapes, a dimension of size 1
// repeated). Supported: two tensors of one layout and the same per-sample
// rank whose shapes broadcast dimension by dimension (the same shape, or a
// dimension of size 1 on either side; the layouts keep the dimensions, so
// ONNX's broadcast and goqat's agree), and the squeeze-and-excitation
// product of an NCHW image (N, C, H, W) and an (N, C, 1, 1) gate, which
// goqat holds as (N, H, W, C) and (N, C): Keras broadcasts (C) as (1, 1,
// C). The output is an NCHW image if either input is one, else the
// inputs' layout. A Mul of a tensor by a gate of itself, x * HardSigmoid(x)
// or x * Sigmoid(x), is imported with the gate as one activation (see
// selfGate) and never reaches mul. Refused: a constant operand, flattened
// NCHW tensors, other layouts or ranks (ONNX aligns shapes of different
// ranks from the right, batch included, Keras after the batch) and shapes
// that do not broadcast.
func (im *importer) mul(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(n.GetInput()))
	}
	a, err := im.in(n, 0)
	if err != nil {
		return fmt.Errorf("%w (multiplying by a constant is not supported)", err)
	}
	b, err := im.in(n, 1)
	if err != nil {
		return fmt.Errorf("%w (multiplying by a constant is not supported)", err)
	}
	lay, ok := a.lay, false
	switch {
	case a.lay == chwFlat || b.lay == chwFlat:
	case a.lay == b.lay:
		ok = len(a.node.Shape()) == len(b.node.Shape())
	case a.lay == nchw && b.lay == nc11, a.lay == nc11 && b.lay == nchw:
		lay, ok = nchw, true
	}
	if ok {
		as, bs := a.node.Shape(), b.node.Shape()
		if a.lay == nc11 && lay == nchw {
			as = append([]int{1, 1}, as...)
		}
		if b.lay == nc11 && lay == nchw {
			bs = append([]int{1, 1}, bs...)
		}
		for d := range as {
			ok = ok && (as[d] == bs[d] || as[d] == 1 || bs[d] == 1)
		}
	}
	if !ok {
		return fmt.Errorf("inputs of shapes %v and %v: only tensors of the same shape, shapes that differ by dimensions of size 1, "+
			"and an (N, C, H, W) image times an (N, C, 1, 1) gate are supported", a.shape(), b.shape())
	}
	v, err := im.call(n, nn.NewMultiply(), lay, a.node, b.node)
	if err == nil {
		v.nonNeg = a.nonNeg && b.nonNeg
	}
	return err
}

// selfGate returns the Mul that multiplies a gate node g's input x by g's
// output, x * g(x), when that Mul is the only reader of g's output and the
// output is no graph output: the pair is then one activation (hard_swish
// for HardSigmoid, silu for Sigmoid). It returns nil otherwise.
func (im *importer) selfGate(g *onnxpb.NodeProto, x *value) *onnxpb.NodeProto {
	out := g.GetOutput()[0]
	cs := im.consumers[out]
	if len(cs) != 1 || im.graphOut[out] {
		return nil
	}
	m := cs[0]
	if m.GetOpType() != "Mul" || len(m.GetInput()) != 2 || len(m.GetOutput()) == 0 || im.skip[m] ||
		(m.GetDomain() != "" && m.GetDomain() != "ai.onnx") {
		return nil
	}
	for i, name := range m.GetInput() {
		if name != out {
			continue
		}
		other, ok := im.vals[m.GetInput()[1-i]]
		if ok && other.node == x.node && other.lay == x.lay {
			return m
		}
		return nil
	}
	return nil
}

// gated imports a gate of x (HardSigmoid or Sigmoid) and the Mul m = x *
// gate(x) that selfGate found as one goqat Activation fn (hard_swish or
// silu) named after m: its output is m's, and m is skipped.
func (im *importer) gated(m *onnxpb.NodeProto, x *value, fn string) error {
	l, err := nn.NewActivation(fn)
	if err != nil {
		return err
	}
	if _, err := im.call(m, l, x.lay, x.node); err != nil {
		return err
	}
	im.skip[m] = true
	return nil
}
