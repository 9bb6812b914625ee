package lite

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/lite/fixedpoint"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// Option configures Convert.
type Option func(*convertOptions)

type convertOptions struct{ fullInteger bool }

// FullInteger makes the model's inputs and outputs int8 (with the input
// quantizer's and the last layer's scale and zero point) instead of float
// with Quantize and Dequantize at the edges.
func FullInteger() Option { return func(o *convertOptions) { o.fullInteger = true } }

// converter holds the state of one conversion.
type converter struct {
	qat    *nn.Model
	m      *Model
	o      convertOptions
	tensor map[string]int // QAT layer or input name -> tensor of its output
	fused  map[string]bool
}

// Convert turns a QAT model (made by quantize.Model and trained) into an
// integer model. Weights are taken as the QAT model uses them in inference
// mode (folded BN with the moving statistics, the weight quantizers'
// ranges), every scale and zero point comes from the quantizers (computed
// by quantize.Params), and the integer model computes what the QAT model
// computes (bit for bit in inference mode: Convert links the QAT model's
// layers to their input quantizers, quantize.Link). A layer that cannot be converted is an
// error naming it.
func Convert(qat *nn.Model, opts ...Option) (*Model, error) {
	if qat == nil {
		return nil, errors.New("lite: nil model")
	}
	quantize.Link(qat)
	c := &converter{qat: qat, m: &Model{Name: qat.Name()}, tensor: map[string]int{}, fused: map[string]bool{}}
	for _, o := range opts {
		o(&c.o)
	}
	for i, name := range qat.InputNames() {
		idx := c.addTensor(Tensor{Name: name, Shape: qat.Inputs()[i].Clone(), DType: Float32})
		c.tensor[name] = idx
		c.m.Inputs = append(c.m.Inputs, idx)
	}
	for _, l := range qat.Layers() {
		if c.fused[l.Name()] {
			continue
		}
		if err := c.layer(l); err != nil {
			return nil, fmt.Errorf("lite: convert layer %q (%s): %w", l.Name(), describe(l), err)
		}
	}
	for _, name := range qat.OutputNames() {
		idx, ok := c.tensor[name]
		if !ok {
			return nil, fmt.Errorf("lite: model output %q was not converted", name)
		}
		t := c.m.Tensors[idx]
		if t.DType == Int8 && !c.o.fullInteger {
			out := c.addTensor(Tensor{Name: name + "/dequantize", Shape: t.Shape.Clone(), DType: Float32})
			c.m.Ops = append(c.m.Ops, Op{Type: OpDequantize, Name: name + "/dequantize", Inputs: []int{idx}, Output: out})
			idx = out
		}
		if c.m.Tensors[idx].DType == Float32 && c.o.fullInteger {
			return nil, fmt.Errorf("lite: model output %q is not quantized; FullInteger needs int8 outputs", name)
		}
		c.m.Outputs = append(c.m.Outputs, idx)
	}
	if err := c.m.Validate(); err != nil {
		return nil, err
	}
	return c.m, nil
}

// describe names a layer's type, with the wrapped type for wrappers.
func describe(l nn.Layer) string {
	if w, ok := l.(*quantize.QuantizeWrapper); ok {
		return "QuantizeWrapper(" + w.Layer.Type() + ")"
	}
	if f, ok := l.(*quantize.FoldedConvBN); ok {
		return "FoldedConvBN(" + f.Conv().Type() + ")"
	}
	return l.Type()
}

func (c *converter) addTensor(t Tensor) int {
	c.m.Tensors = append(c.m.Tensors, t)
	return len(c.m.Tensors) - 1
}

// quantTensor returns the int8 tensor description of a quantizer's output.
func quantTensor(name string, shape tensor.Shape, q quantize.Quantizer) (Tensor, error) {
	s, zp := q.Scales()
	if len(s) != 1 {
		return Tensor{}, fmt.Errorf("per-axis activation quantizer (%d scales): the integer engine needs per-tensor activations", len(s))
	}
	return Tensor{Name: name, Shape: shape.Clone(), DType: Int8, Scale: s[0], ZeroPoint: zp[0], Bits: q.Spec().Bits}, nil
}

// input returns the tensor feeding layer l (its i-th inbound).
func (c *converter) input(l nn.Layer, i int) (int, error) {
	in := c.qat.Inbound(l.Name())
	if i >= len(in) {
		return 0, fmt.Errorf("has %d inputs", len(in))
	}
	idx, ok := c.tensor[in[i]]
	if !ok {
		return 0, fmt.Errorf("input %q was not converted", in[i])
	}
	if c.m.Tensors[idx].DType != Int8 {
		return 0, fmt.Errorf("input %q is not quantized (insert fake quantization before it with quantize.Model)", in[i])
	}
	return idx, nil
}

// output makes the int8 output tensor of an op of layer l quantized by q,
// or, with q nil, fuses l's single consumer if it is a quantized ReLU or
// ReLU6 (returning its fused activation).
func (c *converter) output(l nn.Layer, q quantize.Quantizer) (idx int, act string, err error) {
	name := l.Name()
	if q == nil {
		var cons []nn.Layer
		for _, x := range c.qat.Layers() {
			for _, in := range c.qat.Inbound(x.Name()) {
				if in == name {
					cons = append(cons, x)
				}
			}
		}
		if len(cons) != 1 {
			return 0, "", errors.New("output is not quantized and not followed by one quantized activation")
		}
		w, ok := cons[0].(*quantize.QuantizeWrapper)
		if !ok || w.OutputQuant() == nil {
			return 0, "", fmt.Errorf("output is not quantized and its consumer %q is not a quantized activation", cons[0].Name())
		}
		switch a := w.Layer.(type) {
		case *nn.ReLU:
			act = "relu"
		case *nn.ReLU6:
			act = "relu6"
		case *nn.Activation:
			if a.Func == "relu" || a.Func == "relu6" {
				act = a.Func
			}
		}
		if act == "" {
			return 0, "", fmt.Errorf("output is not quantized and its consumer %q (%s) cannot be fused", w.Name(), w.Layer.Type())
		}
		c.fused[w.Name()] = true
		name, q = w.Name(), w.OutputQuant()
	}
	t, err := quantTensor(name, c.qat.OutputShape(name), q)
	if err != nil {
		return 0, "", err
	}
	idx = c.addTensor(t)
	c.tensor[name] = idx
	if name != l.Name() {
		c.tensor[l.Name()] = idx
	}
	return idx, act, nil
}

// layer converts one QAT layer.
func (c *converter) layer(l nn.Layer) error {
	switch l := l.(type) {
	case *quantize.QuantizeInput:
		return c.quantizeInput(l)
	case *quantize.FoldedConvBN:
		if l.WeightQuant() == nil {
			return errors.New("the kernel is not quantized")
		}
		_, bias := l.Folded()
		return c.weighted(l, l.Conv(), l.FakeQuantKernel(), bias, l.WeightQuant(), l.OutputQuant(), l.Activation())
	case *quantize.QuantizeWrapper:
		return c.wrapper(l)
	case *nn.MaxPooling2D, *nn.AveragePooling2D, *nn.GlobalAveragePooling2D, *nn.Flatten, *nn.Reshape,
		*nn.Dropout, *nn.ZeroPadding2D:
		return c.passThrough(l)
	}
	return fmt.Errorf("layer type %s is not supported by the integer engine (supported: QuantizeInput, FoldedConvBN, "+
		"QuantizeWrapper of Conv2D, DepthwiseConv2D, Dense, Add, Concatenate, ReLU, ReLU6, Activation; MaxPooling2D, "+
		"AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout, ZeroPadding2D)", l.Type())
}

func (c *converter) quantizeInput(l *quantize.QuantizeInput) error {
	in := c.qat.Inbound(l.Name())
	if len(in) != 1 {
		return errors.New("want one input")
	}
	src, ok := c.tensor[in[0]]
	if !ok || c.m.Tensors[src].DType != Float32 {
		return errors.New("QuantizeInput must follow a model input")
	}
	t, err := quantTensor(l.Name(), c.qat.OutputShape(l.Name()), l.Quantizer())
	if err != nil {
		return err
	}
	if c.o.fullInteger {
		// The model input itself becomes int8.
		t.Name = c.m.Tensors[src].Name
		c.m.Tensors[src] = t
		c.tensor[l.Name()] = src
		return nil
	}
	out := c.addTensor(t)
	c.tensor[l.Name()] = out
	c.m.Ops = append(c.m.Ops, Op{Type: OpQuantize, Name: l.Name(), Inputs: []int{src}, Output: out})
	return nil
}

// wrapper converts a QuantizeWrapper.
func (c *converter) wrapper(w *quantize.QuantizeWrapper) error {
	switch inner := w.Layer.(type) {
	case *nn.Conv2D, *nn.DepthwiseConv2D, *nn.Dense:
		var kp, bp *nn.Param
		switch x := inner.(type) {
		case *nn.Conv2D:
			kp, bp = x.Kernel, x.Bias
		case *nn.DepthwiseConv2D:
			kp, bp = x.DepthwiseKernel, x.Bias
		case *nn.Dense:
			kp, bp = x.Kernel, x.Bias
		}
		q := w.WeightQuantizer(kp.Name)
		if q == nil {
			return errors.New("the kernel is not quantized")
		}
		fq := tensor.New(kp.Value.Shape...)
		q.Forward(&nn.Context{}, kp.Value, fq)
		var bias []float32
		if bp != nil {
			bias = bp.Value.Data
		}
		return c.weighted(w, inner, fq.Data, bias, q, w.OutputQuant(), "")
	case *nn.Add:
		if n := len(c.qat.Inbound(w.Name())); n != 2 {
			return fmt.Errorf("Add of %d inputs: the integer engine adds two", n)
		}
		a, err := c.input(w, 0)
		if err != nil {
			return err
		}
		b, err := c.input(w, 1)
		if err != nil {
			return err
		}
		out, act, err := c.output(w, w.OutputQuant())
		if err != nil {
			return err
		}
		c.m.Ops = append(c.m.Ops, Op{Type: OpAdd, Name: w.Name(), Inputs: []int{a, b}, Output: out, Activation: act})
		return nil
	case *nn.Concatenate:
		n := len(c.qat.Inbound(w.Name()))
		rank := len(c.qat.OutputShape(w.Name()))
		if inner.Axis != -1 && inner.Axis != rank {
			return fmt.Errorf("concatenation along axis %d: only the last axis is supported", inner.Axis)
		}
		var ins []int
		for i := 0; i < n; i++ {
			x, err := c.input(w, i)
			if err != nil {
				return err
			}
			ins = append(ins, x)
		}
		out, act, err := c.output(w, w.OutputQuant())
		if err != nil {
			return err
		}
		c.m.Ops = append(c.m.Ops, Op{Type: OpConcatenation, Name: w.Name(), Inputs: ins, Output: out, Activation: act})
		return nil
	case *nn.Activation:
		var typ OpType
		switch inner.Func {
		case "softmax":
			typ = OpSoftmax
		case "sigmoid":
			typ = OpLogistic
		case "tanh":
			typ = OpTanh
		case "linear":
			if w.OutputQuant() == nil {
				return c.passThrough(w)
			}
		}
		if typ != "" {
			x, err := c.input(w, 0)
			if err != nil {
				return err
			}
			if w.OutputQuant() == nil {
				return errors.New("output is not quantized")
			}
			out, _, err := c.output(w, w.OutputQuant())
			if err != nil {
				return err
			}
			c.m.Ops = append(c.m.Ops, Op{Type: typ, Name: w.Name(), Inputs: []int{x}, Output: out})
			return nil
		}
	}
	return fmt.Errorf("the integer engine has no op for a quantized %s here (ReLU/ReLU6 are fused into the Conv2D, "+
		"DepthwiseConv2D, Dense, Add or Concatenate before them)", w.Layer.Type())
}

// weighted converts a Conv2D, DepthwiseConv2D or Dense (plain or folded)
// given its fake-quantized kernel fq, float bias and quantizers.
func (c *converter) weighted(l, inner nn.Layer, fq, bias []float32, wq, oq quantize.Quantizer, act string) error {
	x, err := c.input(l, 0)
	if err != nil {
		return err
	}
	if i, bad := firstNonFinite(fq, bias); bad {
		return fmt.Errorf("the weights hold a NaN or infinite value (element %d)", i)
	}
	tin := c.m.Tensors[x]
	op := Op{Name: l.Name(), Inputs: []int{x}, WeightBits: wq.Spec().Bits}
	if !wq.Spec().Symmetric {
		return errors.New("the kernel quantizer is not symmetric")
	}
	switch v := inner.(type) {
	case *nn.Conv2D:
		op.Type = OpConv2D
		op.WeightShape = v.Kernel.Value.Shape.Clone()
		op.Kernel, op.Strides = v.KernelSize, v.Strides
		op.Pad = pads(tin.Shape, v.KernelSize, v.Strides, v.Padding)
	case *nn.DepthwiseConv2D:
		op.Type = OpDepthwiseConv2D
		s := v.DepthwiseKernel.Value.Shape
		if s[3] != 1 {
			return errors.New("depth multiplier other than 1")
		}
		op.WeightShape = tensor.Shape{s[0], s[1], s[2]}
		op.Kernel, op.Strides = v.KernelSize, v.Strides
		op.Pad = pads(tin.Shape, v.KernelSize, v.Strides, v.Padding)
	case *nn.Dense:
		op.Type = OpFullyConnected
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
	lim := float64(int32(1)<<(op.WeightBits-1) - 1)
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
			op.Bias[ch] = fixedpoint.QuantizeBias(bias[ch], tin.Scale, sw(ch))
		}
	}
	out, fusedAct, err := c.output(l, oq)
	if err != nil {
		return err
	}
	if act == "" {
		act = fusedAct
	}
	op.Output, op.Activation = out, act
	c.m.Ops = append(c.m.Ops, op)
	return nil
}

// pads returns the explicit padding (top, bottom, left, right) of a
// Keras padding mode.
func pads(in tensor.Shape, k, s [2]int, mode string) [4]int {
	if mode != "same" {
		return [4]int{}
	}
	t, b := ops.SamePadding(in[0], k[0], s[0])
	l, r := ops.SamePadding(in[1], k[1], s[1])
	return [4]int{t, b, l, r}
}

// passThrough converts the layers that keep their input's scale and zero
// point: pools, Flatten, Reshape, ZeroPadding2D (Dropout and a linear
// activation are identities).
func (c *converter) passThrough(l nn.Layer) error {
	x, err := c.input(l, 0)
	if err != nil {
		return err
	}
	tin := c.m.Tensors[x]
	op := Op{Name: l.Name(), Inputs: []int{x}}
	switch v := l.(type) {
	case *nn.Dropout, *quantize.QuantizeWrapper:
		c.tensor[l.Name()] = x
		return nil
	case *nn.MaxPooling2D:
		op.Type, op.Kernel, op.Strides = OpMaxPool, v.PoolSize, v.Strides
		op.Pad = pads(tin.Shape, v.PoolSize, v.Strides, v.Padding)
	case *nn.AveragePooling2D:
		op.Type, op.Kernel, op.Strides = OpAveragePool, v.PoolSize, v.Strides
		op.Pad = pads(tin.Shape, v.PoolSize, v.Strides, v.Padding)
	case *nn.GlobalAveragePooling2D:
		op.Type = OpGlobalAveragePool
	case *nn.Flatten, *nn.Reshape:
		op.Type = OpReshape
	case *nn.ZeroPadding2D:
		op.Type, op.Pad = OpPad, v.Padding
	}
	t := tin
	t.Name = l.Name()
	t.Shape = c.qat.OutputShape(l.Name())
	op.Output = c.addTensor(t)
	c.tensor[l.Name()] = op.Output
	c.m.Ops = append(c.m.Ops, op)
	return nil
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
