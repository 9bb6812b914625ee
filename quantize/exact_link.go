package quantize

import (
	"math"

	"github.com/goqat/goqat/qmath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// source is where a linked layer's input codes come from: the quantizer
// that produced them and the number of values averaged between that
// quantizer and the layer (1: none; H*W after a GlobalAveragePooling2D,
// the window after an unpadded AveragePooling2D). Pools keep their input's
// scale and zero point, and the integer engine rounds their mean to that
// grid (half to even); the float pools of the QAT model do not round, so
// the consumer re-derives the rounded codes from the float mean.
type source struct {
	q     Quantizer
	count int
}

// params returns the input's scale and zero point, false if the quantizer
// is per-axis, has no zero point or has recorded no range yet.
func (s source) params() (float32, int32, bool) {
	if s.q == nil {
		return 0, 0, false
	}
	return outParams(s.q)
}

// code returns the integer code minus the zero point of a value v of the
// input (scale sIn, zero point zpIn), rounded to the grid as the integer
// engine's pools do: the mean of the codes including the zero point,
// rounded half to even (the tie breaks on the code's parity, not on the
// parity of the code minus the zero point).
func (s source) code(v, sIn float32, zpIn int32) int32 {
	if s.count == 1 {
		return int32(math.RoundToEven(float64(v) / float64(sIn)))
	}
	return poolCode(v, sIn, zpIn, s.count) - zpIn
}

// poolCode returns the integer engine's code of an average of count codes
// whose float mean (the QAT model's pool output) is v, with scale s and
// zero point zp: round_half_even(sum q / count), the sum recovered from v.
func poolCode(v, s float32, zp int32, count int) int32 {
	cnt := int64(count)
	sum := int64(math.RoundToEven(float64(v)/float64(s)*float64(cnt))) + cnt*int64(zp)
	return int32(qmath.DivRoundEven(sum, cnt))
}

// codes writes the codes of x (minus the zero point) into dst, resized to
// x's length, and returns it.
func (s source) codes(x *tensor.Tensor, sIn float32, zpIn int32, dst []int32) []int32 {
	if cap(dst) < len(x.Data) {
		dst = make([]int32, len(x.Data))
	}
	dst = dst[:len(x.Data)]
	for i, v := range x.Data {
		dst[i] = s.code(v, sIn, zpIn)
	}
	return dst
}

// outParams returns the per-tensor scale and zero point of an output
// quantizer, false if it is per-axis or uninitialised.
func outParams(oq Quantizer) (float32, int32, bool) {
	if oq == nil || !initialised(oq) {
		return 0, 0, false
	}
	s, zp := oq.Scales()
	if len(s) != 1 || len(zp) != 1 {
		return 0, 0, false
	}
	return s[0], zp[0], true
}

// actRange returns the clamp of an output code: the quantizer's range,
// narrowed by a fused activation as the integer engine clamps
// (qmath.ActivationRange).
func actRange(oq Quantizer, act string, sOut float32, zpOut int32) (lo, hi int32) {
	qmin, qmax := qmath.QRange(oq.Spec().Bits, false)
	return qmath.ActivationRange(qmin, qmax, sOut, zpOut, act)
}

// Link makes the inference mode of a QAT model bit-exact with its integer
// model: it calls Link (nn.Linker) on every QuantizeWrapper and
// FoldedConvBN and returns how many are linked to the quantizers of their
// inputs. Every nn.Model calls it when it is built (NewModel, nn.Load), so
// a model made by Model or loaded from a file is already linked; call it
// only to count the linked layers.
//
// A linked layer is one the integer engine computes with requantization:
//
//   - a quantized Conv2D, DepthwiseConv2D or Dense (in a QuantizeWrapper or
//     a FoldedConvBN, with an output quantizer; see exact);
//   - Add and Concatenate in a QuantizeWrapper with an output quantizer
//     (see exactMerge);
//   - Multiply of two inputs (see exactMul) and the table activations
//     sigmoid, tanh, hard_sigmoid, hard_swish and silu (see exactLUT) in a
//     QuantizeWrapper with an output quantizer.
//
// The search for an input's quantizer looks through the layers that keep
// their input's scale (keepScale: pools, Flatten, Reshape, Slice, Dropout,
// ZeroPadding2D, and unquantized wrappers of them), and through one
// GlobalAveragePooling2D or unpadded AveragePooling2D (whose mean the
// integer engine rounds to the input's grid; the linked consumer applies
// that rounding).
func Link(m *nn.Model) int {
	n := 0
	for _, l := range m.Layers() {
		switch l := l.(type) {
		case *QuantizeWrapper:
			l.Link(m)
			if l.ex != nil || l.eo != nil {
				n++
			}
		case *FoldedConvBN:
			l.Link(m)
			if l.ex != nil {
				n++
			}
		case *QuantizeLSTM:
			l.Link(m)
			if l.linked {
				n++
			}
		case *QuantizeSimpleRNN:
			l.Link(m)
			if l.linked {
				n++
			}
		case *QuantizeGRU:
			l.Link(m)
			if l.linked {
				n++
			}
		case *QuantizeBidirectional:
			l.Link(m)
			if l.linked {
				n++
			}
		}
	}
	return n
}

// Link (nn.Linker) sets the wrapper's shared range (see concat_share.go),
// the fused activation after it (a quantized ReLU/ReLU6 that the integer
// op clamps with) and its exact inference: exactMerge for Add and
// Concatenate, exactMul for Multiply, exactLUT for a table activation,
// exact for a weighted layer, when the quantizers of its inputs are found.
func (l *QuantizeWrapper) Link(m *nn.Model) {
	l.shared, l.next, l.nextAct, l.ex, l.eo = nil, nil, "", nil, nil
	if l.oq == nil && len(l.wq) > 0 {
		l.shared = concatQuant(m, l.Name())
	}
	if l.OutputQuant() == nil {
		l.next, l.nextAct = fusedNext(m, l.Name())
	}
	if q, _ := l.exactOut(); q == nil {
		return
	}
	switch inner := l.Layer.(type) {
	case *nn.Add:
		if e := newExactMerge(m, l.Name(), false, 0); e != nil {
			l.eo = e
		}
	case *nn.Concatenate:
		if e := newExactMerge(m, l.Name(), true, inner.SampleAxis()+1); e != nil {
			l.eo = e
		}
	case *nn.Multiply:
		if e := newExactMul(m, l.Name()); e != nil {
			l.eo = e
		}
	case *nn.Activation:
		if tf, ok := tableFuncs[inner.Func]; ok {
			if e := newExactLUT(m, l.Name(), tf.f); e != nil {
				l.eo = e
			}
		}
	}
	if l.eo != nil {
		return
	}
	kp := l.kernelParam()
	if kp == nil || l.WeightQuantizer(kp.Name) == nil {
		return
	}
	if ex := newExact(m, l.Name()); ex != nil {
		ex.oc = kp.Value.Shape[len(kp.Value.Shape)-1]
		if _, ok := l.Layer.(*nn.DepthwiseConv2D); ok {
			ex.oc = kp.Value.Shape[2] * kp.Value.Shape[3] // (KH,KW,C,M): C*M output channels
		}
		ex.run = l.runInner
		l.ex = ex
	}
}

// exactOp is the bit-exact inference of a layer without weights
// (exactMerge, exactMul, exactLUT): forward computes the output into *out
// from the inputs, requantized to oq and clamped by the fused activation
// act, or returns nil (leaving *out alone) when it cannot.
type exactOp interface {
	forward(in []*tensor.Tensor, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor
}

// fusedNext returns the output quantizer and activation of the quantized
// ReLU/ReLU6 that is the only consumer of layer name (not a model output),
// which the integer engine fuses into name's op; nil if there is none.
func fusedNext(m *nn.Model, name string) (Quantizer, string) {
	for _, o := range m.OutputNames() {
		if o == name {
			return nil, ""
		}
	}
	cons := consumers(m, name)
	if len(cons) != 1 {
		return nil, ""
	}
	f, ok := cons[0].(FusedActivation)
	if !ok {
		return nil, ""
	}
	act, q, ok := f.Fused()
	if !ok {
		return nil, ""
	}
	return q, act
}

// consumers returns the layers that read layer name's output.
func consumers(m *nn.Model, name string) []nn.Layer {
	var out []nn.Layer
	for _, l := range m.Layers() {
		for _, in := range m.Inbound(l.Name()) {
			if in == name {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// Link (nn.Linker) sets the folded layer's shared range (see
// concat_share.go) and its exact inference when the quantizer of its input
// is found.
func (l *FoldedConvBN) Link(m *nn.Model) {
	l.shared, l.ex = nil, nil
	if l.oq == nil && l.wq != nil {
		l.shared = concatQuant(m, l.Name())
	}
	if l.OutputQuant() == nil || l.wq == nil {
		return
	}
	if ex := newExact(m, l.Name()); ex != nil {
		ex.oc = l.ch
		ex.run = l.runInner
		l.ex = ex
	}
}

// newExact returns the exact state of single-input layer name, or nil if
// its input's quantizer is not found.
func newExact(m *nn.Model, name string) *exact {
	in := m.Inbound(name)
	if len(in) != 1 {
		return nil
	}
	src, ok := sourceOf(m, in[0])
	if !ok {
		return nil
	}
	return &exact{src: src}
}

// sourceOf finds the quantizer whose codes the output of layer name
// carries (see Link), looking through the layers of keepScale.
func sourceOf(m *nn.Model, name string) (source, bool) {
	count := 1
	for {
		l := m.Layer(name)
		if w, ok := l.(*QuantizeWrapper); ok && w.oq == nil && len(w.wq) == 0 {
			l = w.Layer
		}
		switch l := l.(type) {
		case *QuantizeInput:
			return quantizerSource(l.Quantizer(), count)
		case *QuantizeWrapper:
			return quantizerSource(l.OutputQuant(), count)
		case *FoldedConvBN:
			return quantizerSource(l.OutputQuant(), count)
		case *QuantizeLSTM:
			return quantizerSource(l.OutputQuant(), count)
		case *QuantizeSimpleRNN:
			return quantizerSource(l.OutputQuant(), count)
		case *QuantizeGRU:
			return quantizerSource(l.OutputQuant(), count)
		case *QuantizeBidirectional:
			return quantizerSource(l.OutputQuant(), count)
		case *QuantizeEmbedding:
			return quantizerSource(l.OutputQuant(), count)
		}
		r, ok := keepScale[l.Type()]
		in := m.Inbound(name)
		if !ok || len(in) != 1 {
			return source{}, false
		}
		n, ok := r.averages(l, m.OutputShape(in[0]))
		if !ok || n > 1 && count != 1 {
			return source{}, false
		}
		if n > 1 {
			count = n
		}
		name = in[0]
	}
}

// quantizerSource returns the source of per-tensor quantizer q (false if
// q is nil or per-axis).
func quantizerSource(q Quantizer, count int) (source, bool) {
	if q == nil || q.Spec().PerAxis {
		return source{}, false
	}
	return source{q: q, count: count}, true
}

// Load reads a model saved with nn.Save: the same as nn.Load, which links
// a QAT model's layers (Link) as it builds the model.
//
// Deprecated: use nn.Load.
func Load(path string) (*nn.Model, error) { return nn.Load(path) }
