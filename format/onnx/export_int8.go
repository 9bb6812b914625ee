package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// Option configures ExportInteger.
type Option func(*exportOptions)

type exportOptions struct{ uint8Acts bool }

// Uint8Activations makes ExportInteger store activations as uint8 with
// zero point + 128 (q_u8 = q_s8 + 128: the same real values, bit for bit)
// instead of int8. ONNX Runtime 1.30 on x86-64 fuses every QDQ unit of
// such a graph into QLinearConv/QLinearAdd, while with int8 activations it
// leaves some (convolutions next to a residual Add, the Adds) in float;
// measured on mobilenet-tiny, the uint8 graph ran about 3x faster. Models
// with int8 inputs or outputs (convert.FullInteger) cannot use it.
func Uint8Activations() Option { return func(o *exportOptions) { o.uint8Acts = true } }

// intExporter holds the state of one ExportInteger.
type intExporter struct {
	o     exportOptions
	m     *lite.Model
	b     *builder
	val   []string // per tensor: ONNX value in the internal layout (int8 for Int8 tensors)
	dq    []string // per Int8 tensor: its DequantizeLinear output, made on first use
	qp    [][2]string
	isOut []bool
}

// ExportInteger converts an integer model to a QDQ ONNX model (opset 13):
//
//   - Conv2D (group = Groups), DepthwiseConv2D (group = input channels,
//     output channel c*M+m in group c; both with the op's dilations) and
//     FullyConnected (Gemm with transB) read int8 weight initializers
//     through a per-axis DequantizeLinear (axis = output channel; one
//     scale per channel, zero point 0) and int32 biases through a
//     DequantizeLinear with scale input_scale * weight_scale[c];
//   - every int8 activation is a QuantizeLinear output with the tensor's
//     scale and zero point, read by its consumers through a
//     DequantizeLinear; a fused ReLU is a Relu and a fused ReLU6 a Clip
//     (0, 6) between the op and its QuantizeLinear (activations narrower
//     than 8 bits get a Clip to their integer range instead);
//   - Add, Concat, MaxPool, GlobalMaxPool, Pad, Softmax, Sigmoid, Tanh, Mul
//     (broadcast as goqat does) and the table activations (HardSigmoid;
//     hard_swish as x*HardSigmoid(x), silu as x*Sigmoid(x)) run on
//     dequantized values between QDQ pairs;
//   - AveragePool and GlobalAveragePool, which keep their input's scale and
//     zero point, average the int8 codes cast to float and round the mean
//     half to even with a QuantizeLinear of scale 1 (meanOfCodes), exactly
//     as the integer engine;
//     Reshape/Flatten and Slice (which keeps its input's scale and zero
//     point too) run on the int8 values;
//   - float inputs and outputs (goqat's default conversion) meet
//     QuantizeLinear/DequantizeLinear at the edges; a FullInteger model has
//     int8 inputs and outputs.
//
// Weights narrower than 8 bits are stored as int8 values (they fit).
// Layouts are as ExportFloat's: NHWC at the edges, NCHW inside.
func ExportInteger(m *lite.Model, opts ...Option) (*onnxpb.ModelProto, error) {
	if m == nil {
		return nil, errors.New("onnx: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	n := len(m.Tensors)
	e := &intExporter{m: m, b: newBuilder(m.Name), val: make([]string, n), dq: make([]string, n), qp: make([][2]string, n), isOut: make([]bool, n)}
	for _, o := range opts {
		o(&e.o)
	}
	if e.o.uint8Acts {
		for _, i := range append(append([]int(nil), m.Inputs...), m.Outputs...) {
			if m.Tensors[i].DType == lite.Int8 {
				return nil, fmt.Errorf("onnx: uint8 activations need float model inputs and outputs; %q is int8 (a FullInteger model)", m.Tensors[i].Name)
			}
		}
	}
	for _, o := range m.Outputs {
		e.isOut[o] = true
	}
	for _, i := range m.Inputs {
		t := &m.Tensors[i]
		in := e.b.unique(t.Name)
		e.b.g.Input = append(e.b.g.Input, valueInfo(in, elemType(t), t.Shape))
		e.val[i] = in
		if len(t.Shape) == 3 {
			e.val[i] = e.b.op("Transpose", t.Name+"/nchw", []string{in}, attrInts("perm", toNCHW...))
		}
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		if err := e.op(op); err != nil {
			return nil, fmt.Errorf("onnx: export op %d (%s %q): %w", k, op.Type, op.Name, err)
		}
	}
	for _, o := range m.Outputs {
		t := &m.Tensors[o]
		v := e.val[o]
		if len(t.Shape) == 3 {
			v = e.b.op("Transpose", t.Name, []string{v}, attrInts("perm", toNHWC...))
		}
		e.b.g.Output = append(e.b.g.Output, valueInfo(v, elemType(t), t.Shape))
	}
	kind := "int8 QDQ"
	switch {
	case m.Tensors[m.Inputs[0]].DType == lite.Int8:
		kind = "int8 QDQ, full integer (int8 inputs and outputs)"
	case e.o.uint8Acts:
		kind = "int8 QDQ, activations stored as uint8 (zero point + 128)"
	}
	meta := map[string]string{"goqat_model": m.Name, "goqat_kind": kind,
		"goqat_layout": "input and outputs NHWC as in goqat; NCHW inside"}
	doc := fmt.Sprintf("goqat integer model %q exported to QDQ ONNX opset %d.", m.Name, Opset)
	return newModelProto(e.b.g, doc, meta, []string{"goqat_model", "goqat_kind", "goqat_layout"}), nil
}

func elemType(t *lite.Tensor) onnxpb.TensorProto_DataType {
	if t.DType == lite.Int8 {
		return onnxpb.TensorProto_INT8
	}
	return onnxpb.TensorProto_FLOAT
}

// outName is the ONNX name of tensor i computed by an op: its name, or
// name/nchw for an image that is also a model output.
func (e *intExporter) outName(i int) string {
	t := &e.m.Tensors[i]
	if e.isOut[i] && len(t.Shape) == 3 {
		return e.b.unique(t.Name + "/nchw")
	}
	return e.b.unique(t.Name)
}

// qparams returns the scale and zero-point initializers of Int8 tensor i.
func (e *intExporter) qparams(i int) (scale, zp string) {
	if e.qp[i][0] == "" {
		t := &e.m.Tensors[i]
		e.qp[i][0] = e.b.floats(t.Name+"/scale", nil, []float32{t.Scale})
		if e.o.uint8Acts {
			e.qp[i][1] = e.b.uint8s(t.Name+"/zero_point", nil, []uint8{uint8(t.ZeroPoint + 128)})
		} else {
			e.qp[i][1] = e.b.int8s(t.Name+"/zero_point", nil, []int8{int8(t.ZeroPoint)})
		}
	}
	return e.qp[i][0], e.qp[i][1]
}

// float returns tensor i as float values: a DequantizeLinear of an Int8
// tensor, made once.
func (e *intExporter) float(i int) string {
	t := &e.m.Tensors[i]
	if t.DType == lite.Float32 {
		return e.val[i]
	}
	if e.dq[i] == "" {
		s, zp := e.qparams(i)
		e.dq[i] = e.b.op("DequantizeLinear", t.Name+"/dq", []string{e.val[i], s, zp})
	}
	return e.dq[i]
}

// quantize emits the fused activation and the QuantizeLinear of x (float)
// into Int8 tensor i, as the integer engine clamps it.
func (e *intExporter) quantize(x string, i int, act string) string {
	t := &e.m.Tensors[i]
	b := e.b
	name := t.Name
	switch {
	case t.Bits < 8:
		lo, hi := t.QRange()
		switch act {
		case "relu":
			lo = max(lo, t.ZeroPoint)
		case "relu6":
			lo = max(lo, t.ZeroPoint)
			hi = min(hi, qmath.QuantizeValue(6, t.Scale, t.ZeroPoint, lo, hi))
		}
		flo := b.floats(name+"/clip_min", nil, []float32{t.Scale * float32(lo-t.ZeroPoint)})
		fhi := b.floats(name+"/clip_max", nil, []float32{t.Scale * float32(hi-t.ZeroPoint)})
		x = b.op("Clip", name+"/clip", []string{x, flo, fhi})
	case act == "relu":
		x = b.op("Relu", name+"/relu", []string{x})
	case act == "relu6":
		x = b.op("Clip", name+"/relu6", []string{x, b.floats(name+"/min", nil, []float32{0}), b.floats(name+"/max", nil, []float32{6})})
	}
	s, zp := e.qparams(i)
	return b.node("QuantizeLinear", name, []string{x, s, zp}, []string{e.outName(i)})
}

// op emits one integer op.
func (e *intExporter) op(op *lite.Op) error {
	m, b := e.m, e.b
	x := op.Inputs[0]
	xt, ot := &m.Tensors[x], &m.Tensors[op.Output]
	name := op.Name
	switch op.Type {
	case lite.OpQuantize:
		e.val[op.Output] = e.quantize(e.val[x], op.Output, "")
		return nil
	case lite.OpDequantize:
		s, zp := e.qparams(x)
		e.val[op.Output] = b.node("DequantizeLinear", name, []string{e.val[x], s, zp}, []string{e.outName(op.Output)})
		return nil
	case lite.OpConv2D, lite.OpDepthwiseConv2D, lite.OpFullyConnected:
		y, err := e.weighted(op)
		if err != nil {
			return err
		}
		e.val[op.Output] = e.quantize(y, op.Output, op.Activation)
		return nil
	case lite.OpReshape:
		v := e.val[x]
		if len(xt.Shape) == 3 {
			v = b.op("Transpose", name+"/nhwc", []string{v}, attrInts("perm", toNHWC...))
		}
		if len(ot.Shape) == 1 {
			e.val[op.Output] = b.node("Flatten", name, []string{v}, []string{e.outName(op.Output)}, attrInt("axis", 1))
			return nil
		}
		dims := []int64{-1}
		for _, d := range ot.Shape {
			dims = append(dims, int64(d))
		}
		shp := b.int64s(name+"/shape", []int{len(dims)}, dims)
		if len(ot.Shape) == 3 {
			r := b.op("Reshape", name+"/nhwc_out", []string{v, shp})
			e.val[op.Output] = b.node("Transpose", name, []string{r}, []string{e.outName(op.Output)}, attrInts("perm", toNCHW...))
			return nil
		}
		e.val[op.Output] = b.node("Reshape", name, []string{v, shp}, []string{e.outName(op.Output)})
		return nil
	case lite.OpSlice:
		ax := len(xt.Shape) - 1 - op.AxisFromEnd
		e.val[op.Output] = sliceNode(b, name, e.outName(op.Output), e.val[x], len(xt.Shape), ax, op.Begin, op.End, op.Step)
		return nil
	}
	if (op.Type == lite.OpAveragePool || op.Type == lite.OpGlobalAveragePool) && op.Activation == "" {
		e.val[op.Output] = e.meanOfCodes(op)
		return nil
	}
	var y string
	fx := e.float(x)
	switch op.Type {
	case lite.OpAdd:
		if len(op.Inputs) == 2 {
			y = b.op("Add", name+"/f", []string{fx, e.float(op.Inputs[1])})
			break
		}
		var ins []string
		for _, i := range op.Inputs {
			ins = append(ins, e.float(i))
		}
		y = b.op("Sum", name+"/f", ins)
	case lite.OpConcatenation:
		var ins []string
		for _, i := range op.Inputs {
			ins = append(ins, e.float(i))
		}
		y = b.op("Concat", name+"/f", ins, attrInt("axis", onnxAxis(-1-op.AxisFromEnd, len(xt.Shape))))
	case lite.OpMaxPool:
		y = b.op("MaxPool", name+"/f", []string{fx}, windowAttrs(op.Kernel, op.Strides, op.Pad)...)
	case lite.OpAveragePool: // with a fused activation (else meanOfCodes)
		y = b.op("AveragePool", name+"/f", []string{fx}, append(windowAttrs(op.Kernel, op.Strides, op.Pad), attrInt("count_include_pad", 0))...)
	case lite.OpGlobalAveragePool:
		g := b.op("GlobalAveragePool", name+"/nc11", []string{fx})
		y = b.op("Flatten", name+"/f", []string{g}, attrInt("axis", 1))
	case lite.OpPad:
		p := op.Pad
		pads := b.int64s(name+"/pads", []int{8}, []int64{0, 0, int64(p[0]), int64(p[2]), 0, 0, int64(p[1]), int64(p[3])})
		y = b.op("Pad", name+"/f", []string{fx, pads})
	case lite.OpSoftmax:
		y = b.op("Softmax", name+"/f", []string{fx}, attrInt("axis", onnxAxis(-1, len(xt.Shape))))
	case lite.OpLogistic:
		y = b.op("Sigmoid", name+"/f", []string{fx})
	case lite.OpTanh:
		y = b.op("Tanh", name+"/f", []string{fx})
	case lite.OpHardSwish, lite.OpHardSigmoid, lite.OpSiLU:
		fn := map[lite.OpType]string{lite.OpHardSwish: "hard_swish", lite.OpHardSigmoid: "hard_sigmoid", lite.OpSiLU: "silu"}[op.Type]
		y, _ = tableActivation(b, fn, name, name+"/f", fx)
	case lite.OpMul:
		ins := []string{fx, e.float(op.Inputs[1])}
		shapes := []tensor.Shape{xt.Shape, m.Tensors[op.Inputs[1]].Shape}
		var err error
		if y, err = multiply(b, name, name+"/f", ins, shapes, ot.Shape); err != nil {
			return err
		}
	case lite.OpGlobalMaxPool:
		g := b.op("GlobalMaxPool", name+"/nc11", []string{fx})
		y = b.op("Flatten", name+"/f", []string{g}, attrInt("axis", 1))
	default:
		return fmt.Errorf("op type %s cannot be exported", op.Type)
	}
	e.val[op.Output] = e.quantize(y, op.Output, op.Activation)
	return nil
}

// meanOfCodes emits an AveragePool or GlobalAveragePool (without a fused
// activation; its output keeps the input's scale and zero point) as the
// integer engine computes it, on the codes: Cast to float, the pool, and a
// QuantizeLinear with scale 1 and zero point 0 back to int8 (uint8 with
// Uint8Activations, whose codes are q + 128), which rounds the mean of the
// codes half to even. ONNX's float form, DequantizeLinear, pool,
// QuantizeLinear, rounds the mean of q - zero_point instead, which on a
// tie differs when the zero point is odd, and float rounding decides the
// ties it leaves (a quarter of a 2x2 pool's means are ties): the codes'
// mean is exact in float32 (sums of codes below 2^24, a tie k + 1/2 is a
// float32), so the pool agrees with goqat on every value.
func (e *intExporter) meanOfCodes(op *lite.Op) string {
	b := e.b
	name := op.Name
	codes := b.op("Cast", name+"/codes", []string{e.val[op.Inputs[0]]}, attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	var y string
	if op.Type == lite.OpAveragePool {
		y = b.op("AveragePool", name+"/f", []string{codes}, append(windowAttrs(op.Kernel, op.Strides, op.Pad), attrInt("count_include_pad", 0))...)
	} else {
		g := b.op("GlobalAveragePool", name+"/nc11", []string{codes})
		y = b.op("Flatten", name+"/f", []string{g}, attrInt("axis", 1))
	}
	one := b.floats(name+"/unit_scale", nil, []float32{1})
	var zp string
	if e.o.uint8Acts {
		zp = b.uint8s(name+"/code_zero_point", nil, []uint8{0})
	} else {
		zp = b.int8s(name+"/code_zero_point", nil, []int8{0})
	}
	return b.node("QuantizeLinear", name, []string{y, one, zp}, []string{e.outName(op.Output)})
}

// weighted emits the float computation of a Conv2D, DepthwiseConv2D or
// FullyConnected on dequantized input, weights and bias, and returns its
// (pre-activation) output.
func (e *intExporter) weighted(op *lite.Op) (string, error) {
	b := e.b
	xt := &e.m.Tensors[op.Inputs[0]]
	ws := op.WeightShape
	var w []int8
	var wdims []int
	switch op.Type {
	case lite.OpConv2D:
		w = convWeights(op.Weights, ws[0], ws[1], ws[2], ws[3])
		wdims = []int{ws[3], ws[2], ws[0], ws[1]}
	case lite.OpDepthwiseConv2D:
		w = convWeights(op.Weights, ws[0], ws[1], 1, ws[2])
		wdims = []int{ws[2], 1, ws[0], ws[1]}
	case lite.OpFullyConnected:
		w = transpose2(op.Weights, ws[0], ws[1]) // (units, in) for transB
		wdims = []int{ws[1], ws[0]}
	}
	oc := wdims[0]
	name := op.Name
	wq := b.int8s(name+"/weights_q", wdims, w)
	var wdq string
	if len(op.WeightScales) == 1 {
		s := b.floats(name+"/weight_scale", nil, op.WeightScales)
		zp := b.int8s(name+"/weight_zero_point", nil, []int8{0})
		wdq = b.op("DequantizeLinear", name+"/weights", []string{wq, s, zp})
	} else {
		s := b.floats(name+"/weight_scale", []int{oc}, op.WeightScales)
		zp := b.int8s(name+"/weight_zero_point", []int{oc}, make([]int8, oc))
		wdq = b.op("DequantizeLinear", name+"/weights", []string{wq, s, zp}, attrInt("axis", 0))
	}
	ins := []string{e.float(op.Inputs[0]), wdq}
	if op.Bias != nil {
		bs := make([]float32, oc)
		for c := range bs {
			sw := op.WeightScales[0]
			if len(op.WeightScales) > 1 {
				sw = op.WeightScales[c]
			}
			bs[c] = float32(float64(xt.Scale) * float64(sw))
		}
		bq := b.int32s(name+"/bias_q", []int{oc}, op.Bias)
		s := b.floats(name+"/bias_scale", []int{oc}, bs)
		zp := b.int32s(name+"/bias_zero_point", []int{oc}, make([]int32, oc))
		ins = append(ins, b.op("DequantizeLinear", name+"/bias", []string{bq, s, zp}, attrInt("axis", 0)))
	}
	if op.Type == lite.OpFullyConnected {
		return b.op("Gemm", name+"/f", ins, attrInt("transB", 1)), nil
	}
	group := max(op.Groups, 1)
	if op.Type == lite.OpDepthwiseConv2D {
		group = xt.Shape[2] // output channels c*M .. c*M+M-1 read input channel c
	}
	at := append(windowAttrs(op.Kernel, op.Strides, op.Pad), attrInt("group", int64(group)))
	at = append(at, dilationAttrs([2]int{max(op.Dilation[0], 1), max(op.Dilation[1], 1)})...)
	return b.op("Conv", name+"/f", ins, at...), nil
}
