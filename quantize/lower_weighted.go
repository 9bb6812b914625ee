package quantize

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// lowerWeighted converts a Conv2D, DepthwiseConv2D, Conv1D or Dense (wrapped or
// folded) named name, given its fake-quantized kernel fq (shaped as the
// layer's kernel), float bias, weight and output quantizers and fused
// activation: the int8 kernel is fq divided by the weight scales (exact:
// fq is on that grid), the int32 bias is on the accumulator's grid
// s_in*s_w[c] (qmath.QuantizeBias).
func lowerWeighted(b Lowering, name string, inner nn.Layer, fq, bias []float32, wq, oq Quantizer, act string) error {
	x, err := b.Input(0)
	if err != nil {
		return err
	}
	if i, bad := firstNonFinite(fq, bias); bad {
		return fmt.Errorf("the weights hold a NaN or infinite value (element %d)", i)
	}
	tin := b.Tensor(x)
	op := lite.Op{Name: name, Inputs: []int{x}, WeightBits: wq.Spec().Bits}
	if !wq.Spec().Symmetric {
		return errors.New("the kernel quantizer is not symmetric")
	}
	switch v := inner.(type) {
	case *nn.Conv2D:
		op.Type = lite.OpConv2D
		op.WeightShape = v.Kernel.Value.Shape.Clone()
		op.Kernel, op.Strides = v.KernelSize, v.Strides
		op.Dilation = opDilation(v.Dilation())
		if g := v.GroupCount(); g > 1 {
			op.Groups = g
		}
		op.Pad = pads(tin.Shape, dilatedWindow(v.KernelSize, v.Dilation()), v.Strides, v.Padding)
	case *nn.DepthwiseConv2D:
		op.Type = lite.OpDepthwiseConv2D
		s := v.DepthwiseKernel.Value.Shape // (KH,KW,C,M): output channel c*M+m
		op.WeightShape = tensor.Shape{s[0], s[1], s[2] * s[3]}
		if s[3] > 1 {
			op.DepthMultiplier = s[3]
		}
		op.Kernel, op.Strides = v.KernelSize, v.Strides
		op.Dilation = opDilation(v.Dilation())
		op.Pad = pads(tin.Shape, dilatedWindow(v.KernelSize, v.Dilation()), v.Strides, v.Padding)
	case *nn.Conv1D:
		if err := conv1DOp(b, v, x, &op); err != nil {
			return err
		}
	case *nn.Dense:
		op.Type = lite.OpFullyConnected
		op.WeightShape = v.Kernel.Value.Shape.Clone()
		if len(tin.Shape) != 1 {
			return fmt.Errorf("Dense on a %v input: flatten it first", tin.Shape)
		}
	default:
		return fmt.Errorf("cannot convert a %s with weights", inner.Type())
	}
	scales, _ := wq.Scales()
	oc := op.WeightShape[len(op.WeightShape)-1]
	if len(scales) != 1 && len(scales) != oc {
		return fmt.Errorf("%d weight scales for %d output channels", len(scales), oc)
	}
	op.WeightScales = scales
	sw := func(ch int) float32 {
		if len(scales) == 1 {
			return scales[0]
		}
		return scales[ch]
	}
	_, qmax := qmath.QRange(op.WeightBits, true)
	lim := float64(qmax)
	op.Weights = make([]int8, len(fq))
	for i, v := range fq {
		q := math.RoundToEven(float64(v) / float64(sw(i%oc)))
		if q < -lim || q > lim {
			return fmt.Errorf("fake-quantized weight %v is %v steps of %v, outside the narrow %d-bit range", v, q, sw(i%oc), op.WeightBits)
		}
		op.Weights[i] = int8(q)
	}
	if bias != nil {
		op.Bias = make([]int32, oc)
		for ch := range op.Bias {
			op.Bias[ch] = qmath.QuantizeBias(bias[ch], tin.Scale, sw(ch))
		}
	}
	out, fusedAct, err := b.Output(oq)
	if err != nil {
		return err
	}
	if act == "" {
		act = fusedAct
	}
	op.Output, op.Activation = out, act
	if _, ok := inner.(*nn.Conv1D); ok {
		op.Output = imageOut(b, out) // (1, OT, F), copied to out (OT, F)
	}
	b.AddOp(op)
	restoreSeq(b, op.Output, out)
	return nil
}

// opDilation returns an op's Dilation for a layer's: zero (the default,
// left out of the file) for no dilation.
func opDilation(d [2]int) [2]int {
	if d == [2]int{1, 1} {
		return [2]int{}
	}
	return d
}

// dilatedWindow returns the extent of a kernel whose taps are d apart,
// which 'same' padding covers.
func dilatedWindow(k, d [2]int) [2]int {
	return [2]int{ops.DilatedSize(k[0], d[0]), ops.DilatedSize(k[1], d[1])}
}

// firstNonFinite returns the index of the first NaN or infinity in the
// kernel followed by the bias.
func firstNonFinite(kernel, bias []float32) (int, bool) {
	for i, v := range kernel {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i, true
		}
	}
	for i, v := range bias {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return len(kernel) + i, true
		}
	}
	return 0, false
}
