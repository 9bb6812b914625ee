package quantize

import (
	"math"
	"strings"

	"github.com/goqat/goqat/lite/fixedpoint"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Training simulates, inference is bit-exact. In training mode the
// quantized layers compute in float with fake quantization and straight-
// through gradients. In inference mode (Context.Training false) a linked
// Conv2D, DepthwiseConv2D or Dense (wrapped or folded with BN, with a
// quantized kernel and output) computes exactly what the integer engine
// (package lite) computes:
//
//	t      = q_in - zp_in                  (the input's integer codes)
//	acc[c] = round(b[c] / (s_in*s_w[c])) + sum t * q_w[c]
//	q_out  = fixedpoint.Requantize(acc, s_in*s_w[c]/s_out, zp_out, lo, hi)
//	y      = (q_out - zp_out) * s_out
//
// The sum runs through the wrapped layer's own float kernels on integer-
// valued operands, which is exact while every partial sum stays below 2^24
// in magnitude: the bound max|t| * max_c sum|q_w[c]| is checked on each
// batch, and when it fails the kernel is split into q_w = 16*hi + lo and
// run twice. Link (called by Model) tells each such layer which quantizer
// produced its input; a layer that is not linked, or whose bound fails
// even split, computes the float simulation.

// exact holds a linked layer's input quantization and the buffers of its
// bit-exact inference.
type exact struct {
	in    Quantizer // quantizer of the input
	count int       // values averaged between that quantizer and the layer (1: none)
	oc    int       // output channels (the kernel's last axis)
	run   func(x, k *tensor.Tensor) *tensor.Tensor

	xk, wk, wlo, zHi *tensor.Tensor
	bias             []int32
	mult             []fixedpoint.Multiplier
	sum, sumLo       []int64
}

// initialised reports whether a quantizer has recorded a range (a
// quantizer without an "_init" state counts as initialised).
func initialised(q Quantizer) bool {
	for _, p := range q.Params() {
		if strings.HasSuffix(p.Name, "_init") {
			return p.Value.Data[0] != 0
		}
	}
	return true
}

// forward computes the layer's output exactly into *out from its input x,
// its fake-quantized kernel fqk (quantized by wq), its float bias (nil:
// none), the output quantizer oq and the fused activation. It returns nil,
// leaving *out alone, when the exact computation is not possible (then the
// caller computes the float simulation).
func (e *exact) forward(x, fqk *tensor.Tensor, wq Quantizer, bias []float32, oq Quantizer, act string, out **tensor.Tensor) *tensor.Tensor {
	if !wq.Spec().Symmetric || !initialised(e.in) || !initialised(oq) || !initialised(wq) {
		return nil
	}
	sIns, zpIns := e.in.Scales()
	sOuts, zpOuts := oq.Scales()
	sW, _ := wq.Scales()
	if len(sIns) != 1 || len(sOuts) != 1 || zpIns == nil || zpOuts == nil || (len(sW) != 1 && len(sW) != e.oc) {
		return nil
	}
	sIn, sOut, zpOut := sIns[0], sOuts[0], zpOuts[0]
	sw := func(c int) float32 {
		if len(sW) == 1 {
			return sW[0]
		}
		return sW[c]
	}
	// The input's integer codes.
	xk := tensor.Ensure(&e.xk, x.Shape...)
	inv := 1 / float64(sIn)
	aMax := 0.0
	cnt := int64(e.count)
	for i, v := range x.Data {
		var t float64
		if cnt == 1 {
			t = math.RoundToEven(float64(v) * inv)
		} else {
			t = float64(divRoundEven(int64(math.RoundToEven(float64(v)*inv*float64(cnt))), cnt))
		}
		xk.Data[i] = float32(t)
		aMax = math.Max(aMax, math.Abs(t))
	}
	// The kernel's codes and the per-channel constants.
	oc := e.oc
	wk := tensor.Ensure(&e.wk, fqk.Shape...)
	if len(e.sum) != oc {
		e.sum, e.sumLo = make([]int64, oc), make([]int64, oc)
		e.bias, e.mult = make([]int32, oc), make([]fixedpoint.Multiplier, oc)
	}
	clear(e.sum)
	for i, v := range fqk.Data {
		c := i % oc
		q := math.RoundToEven(float64(v) / float64(sw(c)))
		wk.Data[i] = float32(q)
		e.sum[c] += int64(math.Abs(q))
	}
	for c := 0; c < oc; c++ {
		m, err := fixedpoint.NewMultiplier(float64(sIn) * float64(sw(c)) / float64(sOut))
		if err != nil {
			return nil
		}
		e.mult[c] = m
		e.bias[c] = 0
		if bias != nil {
			e.bias[c] = fixedpoint.QuantizeBias(bias[c], sIn, sw(c))
		}
	}
	const exactLimit = 1 << 24
	split := aMax*float64(maxOf(e.sum)) >= exactLimit
	if split {
		wlo := tensor.Ensure(&e.wlo, fqk.Shape...)
		clear(e.sum)
		clear(e.sumLo)
		for i, v := range wk.Data {
			hi := math.Floor(float64(v) / 16)
			lo := float64(v) - 16*hi
			wk.Data[i], wlo.Data[i] = float32(hi), float32(lo)
			e.sum[i%oc] += int64(math.Abs(hi))
			e.sumLo[i%oc] += int64(lo)
		}
		if aMax*float64(maxOf(e.sum)) >= exactLimit || aMax*float64(maxOf(e.sumLo)) >= exactLimit {
			return nil
		}
	}
	z := e.run(xk, wk)
	var zLo []float32
	if split {
		zh := tensor.Ensure(&e.zHi, z.Shape...)
		copy(zh.Data, z.Data)
		zLo = e.run(xk, e.wlo).Data
		z = zh
	}
	// Requantize as the integer engine does.
	lo, hi := QRange(oq.Spec().Bits, false)
	switch act {
	case "relu":
		lo = max(lo, zpOut)
	case "relu6":
		lo = max(lo, zpOut)
		hi = min(hi, QuantizeValue(6, sOut, zpOut, lo, hi))
	}
	y := tensor.Ensure(out, z.Shape...)
	for i, v := range z.Data {
		c := i % oc
		acc := int64(v)
		if split {
			acc = 16*acc + int64(zLo[i])
		}
		acc += int64(e.bias[c])
		code := fixedpoint.Requantize(fixedpoint.Saturate(acc), e.mult[c], zpOut, lo, hi)
		y.Data[i] = float32(code-zpOut) * sOut
	}
	return y
}

// maxOf returns the largest element of s (0 for none).
func maxOf(s []int64) int64 {
	m := int64(0)
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// divRoundEven returns a/b rounded to nearest, ties to even (b > 0), as
// the integer engine's average pools.
func divRoundEven(a, b int64) int64 {
	q := a / b
	r := a - q*b
	if r < 0 {
		q--
		r += b
	}
	if 2*r > b || (2*r == b && q&1 != 0) {
		q++
	}
	return q
}

// Link makes the inference mode of a QAT model bit-exact with its integer
// model: it tells every quantized Conv2D, DepthwiseConv2D and Dense (in a
// QuantizeWrapper or a FoldedConvBN, with an output quantizer) which
// quantizer produced its input, looking through the layers that keep their
// input's scale (MaxPooling2D, Flatten, Reshape, Dropout, ZeroPadding2D,
// and unquantized wrappers of them) and through one GlobalAveragePooling2D
// or unpadded AveragePooling2D (whose mean the integer engine rounds to the
// input's grid). Model links the models it returns; call Link after
// nn.Load of a QAT model (lite.Convert does). It returns the number of
// layers linked.
func Link(m *nn.Model) int {
	n := 0
	for _, l := range m.Layers() {
		var ex *exact
		switch l := l.(type) {
		case *QuantizeWrapper:
			l.ex = nil
			if l.oq == nil || l.kernelParam() == nil || l.WeightQuantizer(l.kernelParam().Name) == nil {
				continue
			}
			if ex = newExact(m, l.Name()); ex != nil {
				kp := l.kernelParam()
				ex.oc = kp.Value.Shape[len(kp.Value.Shape)-1]
				if _, ok := l.Layer.(*nn.DepthwiseConv2D); ok {
					ex.oc = kp.Value.Shape[2]
				}
				ex.run = l.runInner
				l.ex = ex
			}
		case *FoldedConvBN:
			l.ex = nil
			if l.oq == nil || l.wq == nil {
				continue
			}
			if ex = newExact(m, l.Name()); ex != nil {
				ex.oc = l.ch
				ex.run = l.runInner
				l.ex = ex
			}
		}
		if ex != nil {
			n++
		}
	}
	return n
}

// newExact finds the quantizer of layer name's input, or returns nil.
func newExact(m *nn.Model, name string) *exact {
	count := 1
	for {
		in := m.Inbound(name)
		if len(in) != 1 {
			return nil
		}
		name = in[0]
		l := m.Layer(name)
		if w, ok := l.(*QuantizeWrapper); ok && w.oq == nil && len(w.wq) == 0 {
			l = w.Layer
		}
		switch l := l.(type) {
		case *QuantizeInput:
			return quantizerExact(l.Quantizer(), count)
		case *QuantizeWrapper:
			return quantizerExact(l.oq, count)
		case *FoldedConvBN:
			return quantizerExact(l.oq, count)
		case *nn.MaxPooling2D, *nn.Flatten, *nn.Reshape, *nn.Dropout, *nn.ZeroPadding2D:
			continue
		case *nn.GlobalAveragePooling2D:
			s := m.OutputShape(m.Inbound(name)[0])
			if count != 1 || len(s) != 3 {
				return nil
			}
			count = s[0] * s[1]
		case *nn.AveragePooling2D:
			if count != 1 || l.Padding == "same" {
				return nil
			}
			count = l.PoolSize[0] * l.PoolSize[1]
		default:
			return nil
		}
	}
}

// quantizerExact returns the exact state for input quantizer q (nil if q
// is nil or per-axis).
func quantizerExact(q Quantizer, count int) *exact {
	if q == nil || q.Spec().PerAxis {
		return nil
	}
	return &exact{in: q, count: count}
}

// Load reads a model saved with nn.Save and, for a QAT model, links its
// layers (Link) so that its inference is bit-exact with the integer model.
// Plain float models load as with nn.Load.
func Load(path string) (*nn.Model, error) {
	m, err := nn.Load(path)
	if err != nil {
		return nil, err
	}
	Link(m)
	return m, nil
}
