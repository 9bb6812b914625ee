package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// maxVersions is the highest version of each operator read: TFLite's
// int8 kernels of these versions compute what goqat's ops compute (higher
// versions add types or semantics goqat does not have).
var maxVersions = map[int32]int32{
	opConv2D: 5, opDepthwiseConv: 6, opFullyConnected: 9, opAdd: 4, opConcatenation: 3,
	opMaxPool2D: 3, opAveragePool2D: 3, opMean: 3, opReshape: 1, opPad: 4, opSoftmax: 3,
	opLogistic: 3, opTanh: 3, opQuantize: 3, opDequantize: 4, opHardSwish: 1, opMul: 5,
	opStridedSlice: 6, opReduceMax: 3, opUniSeqLSTM: 1, opGather: 2, opCast: 1,
}

// opNames names the operators read, and the others of schema 3 that
// files commonly hold, for errors.
var opNames = map[int32]string{
	opAdd: "ADD", opAveragePool2D: "AVERAGE_POOL_2D", opConcatenation: "CONCATENATION", opConv2D: "CONV_2D",
	opDepthwiseConv: "DEPTHWISE_CONV_2D", opDequantize: "DEQUANTIZE", opFullyConnected: "FULLY_CONNECTED",
	opLogistic: "LOGISTIC", opMaxPool2D: "MAX_POOL_2D", opMul: "MUL", opReshape: "RESHAPE", opSoftmax: "SOFTMAX",
	opTanh: "TANH", opPad: "PAD", opMean: "MEAN", opStridedSlice: "STRIDED_SLICE", opReduceMax: "REDUCE_MAX",
	opQuantize: "QUANTIZE", opHardSwish: "HARD_SWISH", opUniSeqLSTM: "UNIDIRECTIONAL_SEQUENCE_LSTM", opGather: "GATHER",
	opRelu: "RELU", opRelu6: "RELU6", 5: "DEPTH_TO_SPACE", 23: "RESIZE_BILINEAR", 32: "CUSTOM", 39: "TRANSPOSE",
	41: "SUB", 42: "DIV", 43: "SQUEEZE", 49: "SPLIT", 53: "CAST", 54: "PRELU", 55: "MAXIMUM", 57: "MINIMUM",
	60: "PADV2", 65: "SLICE", 67: "TRANSPOSE_CONV", 74: "SUM", 83: "PACK", 97: "LEAKY_RELU",
}

// opName names a builtin code.
func opName(code int32) string {
	if n, ok := opNames[code]; ok {
		return n
	}
	return fmt.Sprintf("builtin operator %d", code)
}

// opIn is one operator as read.
type opIn struct {
	code, version int32
	name          string
	ins, outs     []int32
	inter         []int32 // intermediates
	optType       uint8
	opts          *ftable
}

// readOp reads one operator and appends its lite ops.
func (r *reader) readOp(t *ftable) error {
	idx, err := t.u32f(operatorOpcodeIndex, 0)
	if err != nil {
		return err
	}
	if int64(idx) >= int64(len(r.codes)) {
		return fmt.Errorf("opcode index %d out of range (%d codes)", idx, len(r.codes))
	}
	o := opIn{code: r.codes[idx].code, version: r.codes[idx].version}
	o.name = opName(o.code)
	maxV, ok := maxVersions[o.code]
	if !ok {
		return fmt.Errorf("operator %s is not supported", o.name)
	}
	if o.version < 1 || o.version > maxV {
		return fmt.Errorf("%s version %d is not supported (versions 1 to %d are)", o.name, o.version, maxV)
	}
	if o.ins, err = t.int32s(operatorInputs); err != nil {
		return err
	}
	if o.outs, err = t.int32s(operatorOutputs); err != nil {
		return err
	}
	if len(o.outs) != 1 {
		return fmt.Errorf("%s with %d outputs, want 1", o.name, len(o.outs))
	}
	if o.inter, err = t.int32s(operatorIntermediates); err != nil {
		return err
	}
	if o.optType, err = t.u8(operatorBuiltinOptionsType, 0); err != nil {
		return err
	}
	if o.optType != optNone {
		if o.opts, err = t.sub(operatorBuiltinOptions, o.name+" options"); err != nil {
			return err
		}
	}
	if err := r.convert(&o); err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	return nil
}

// options returns the operator's options table if it is of type want
// (nil: absent, all defaults).
func (o *opIn) options(want uint8) (*ftable, error) {
	if o.optType == optNone || o.opts == nil {
		return nil, nil
	}
	if o.optType != want {
		return nil, fmt.Errorf("options of union type %d, want %d", o.optType, want)
	}
	return o.opts, nil
}

// optI32 reads an int32 option (d when the table is absent).
func optI32(t *ftable, id int, d int32) (int32, error) {
	if t == nil {
		return d, nil
	}
	return t.i32(id, d)
}

// optU8 reads a byte option.
func optU8(t *ftable, id int, d uint8) (uint8, error) {
	if t == nil {
		return d, nil
	}
	return t.u8(id, d)
}

// fused reads a fused activation option.
func fused(t *ftable, id int) (string, error) {
	a, err := optU8(t, id, actNone)
	if err != nil {
		return "", err
	}
	switch a {
	case actNone:
		return "", nil
	case actRelu:
		return "relu", nil
	case actRelu6:
		return "relu6", nil
	}
	return "", fmt.Errorf("fused activation %d is not supported (NONE, RELU and RELU6 are)", a)
}

// input returns the lite tensor of the operator's input i.
func (r *reader) input(o *opIn, i int) (int, error) {
	if i >= len(o.ins) {
		return 0, fmt.Errorf("%d inputs, want at least %d", len(o.ins), i+1)
	}
	return r.activation(o.ins[i])
}

// constant returns the operator's input i as a constant of type typ.
func (r *reader) constant(o *opIn, i int, typ uint8) (*fileTensorIn, error) {
	if i >= len(o.ins) {
		return nil, fmt.Errorf("%d inputs, want at least %d", len(o.ins), i+1)
	}
	ft, err := r.tensorAt(o.ins[i])
	if err != nil {
		return nil, err
	}
	if ft.data == nil {
		return nil, fmt.Errorf("input %d (%q) must be a constant", i, ft.name)
	}
	if ft.typ != typ {
		return nil, fmt.Errorf("input %d (%q) is %s, want %s", i, ft.name, typeName(ft.typ), typeName(typ))
	}
	return ft, nil
}

// sizeOf returns a shape's element count (shapes are bounded when read).
func sizeOf(s []int32) int {
	n := 1
	for _, d := range s {
		n *= int(d)
	}
	return n
}

// int32Data decodes a constant int32 tensor.
func (r *reader) int32Data(ft *fileTensorIn) ([]int32, error) {
	if err := r.f.charge(int64(len(ft.data))); err != nil {
		return nil, err
	}
	v := make([]int32, len(ft.data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(ft.data[4*i:]))
	}
	return v, nil
}

// padding returns goqat's padding (before, after) for TFLite's padding
// type along one axis.
func padding(pad uint8, n, k, s, d int) (int, int, error) {
	switch pad {
	case padValid:
		return 0, 0, nil
	case padSame:
		eff := (k-1)*max(d, 1) + 1
		out := (n + s - 1) / s
		total := max((out-1)*s+eff-n, 0)
		return total / 2, total - total/2, nil
	}
	return 0, 0, fmt.Errorf("padding %d (want SAME or VALID)", pad)
}

// add appends a lite op writing file tensor out.
func (r *reader) add(op lite.Op, out int32) error {
	k, err := r.activation(out)
	if err != nil {
		return err
	}
	op.Output = k
	r.m.Ops = append(r.m.Ops, op)
	return nil
}

// convert appends the lite ops of one operator.
func (r *reader) convert(o *opIn) error {
	out := o.outs[0]
	name := fmt.Sprintf("%s_%d", o.name, len(r.m.Ops))
	if ft, err := r.tensorAt(out); err == nil && ft.name != "" {
		name = ft.name
	} else if err != nil {
		return err
	}
	if o.code != opQuantize && o.code != opCast && len(o.ins) > 0 && o.ins[0] >= 0 && int(o.ins[0]) < len(r.tensors) && r.tensors[o.ins[0]].typ == typeFloat32 {
		return fmt.Errorf("FLOAT32 input: %w (tflite.ReadFloat, goqat import, imports it)", ErrFloatModel)
	}
	switch o.code {
	case opConv2D, opDepthwiseConv:
		return r.conv(o, name)
	case opFullyConnected:
		return r.fullyConnected(o, name)
	case opAveragePool2D, opMaxPool2D:
		return r.pool(o, name)
	case opAdd, opMul:
		if len(o.ins) != 2 {
			return fmt.Errorf("%d inputs, want 2", len(o.ins))
		}
		typ, opt, id := lite.OpAdd, uint8(optAdd), addAct
		if o.code == opMul {
			typ, opt, id = lite.OpMul, optMul, mulAct
		}
		t, err := o.options(opt)
		if err != nil {
			return err
		}
		act, err := fused(t, id)
		if err != nil {
			return err
		}
		a, err := r.input(o, 0)
		if err != nil {
			return err
		}
		b, err := r.input(o, 1)
		if err != nil {
			return err
		}
		return r.add(lite.Op{Type: typ, Name: name, Inputs: []int{a, b}, Activation: act}, out)
	case opConcatenation:
		t, err := o.options(optConcatenation)
		if err != nil {
			return err
		}
		if act, err := fused(t, concatAct); err != nil || act != "" {
			if err != nil {
				return err
			}
			return fmt.Errorf("fused %s is not supported", act)
		}
		axis, err := optI32(t, concatAxis, 0)
		if err != nil {
			return err
		}
		var ins []int
		for i := range o.ins {
			k, err := r.input(o, i)
			if err != nil {
				return err
			}
			ins = append(ins, k)
		}
		if len(ins) == 0 {
			return fmt.Errorf("no inputs")
		}
		rank := int32(len(r.m.Tensors[ins[0]].Shape)) + 1
		if axis < 0 {
			axis += rank
		}
		if axis < 1 || axis >= rank {
			return fmt.Errorf("axis %d of a rank-%d tensor (the batch axis and axes outside are not supported)", axis, rank)
		}
		return r.add(lite.Op{Type: lite.OpConcatenation, Name: name, Inputs: ins, AxisFromEnd: int(rank - 1 - axis)}, out)
	case opReshape:
		x, err := r.input(o, 0)
		if err != nil {
			return err
		}
		return r.add(lite.Op{Type: lite.OpReshape, Name: name, Inputs: []int{x}}, out)
	case opPad:
		return r.pad(o, name)
	case opSoftmax:
		t, err := o.options(optSoftmax)
		if err != nil {
			return err
		}
		beta := float32(0)
		if t != nil {
			if beta, err = t.f32(softmaxBeta, 0); err != nil {
				return err
			}
		}
		if beta != 1 {
			return fmt.Errorf("beta %v is not supported (1 is)", beta)
		}
		return r.unary(o, lite.OpSoftmax, name)
	case opLogistic:
		return r.unary(o, lite.OpLogistic, name)
	case opTanh:
		return r.unary(o, lite.OpTanh, name)
	case opHardSwish:
		return r.unary(o, lite.OpHardSwish, name)
	case opDequantize:
		return r.unary(o, lite.OpDequantize, name)
	case opQuantize:
		x, err := r.input(o, 0)
		if err != nil {
			return err
		}
		if r.m.Tensors[x].DType == lite.Int8 {
			// int8 to int8: a requantization, goqat's Concatenation of
			// one input.
			return r.add(lite.Op{Type: lite.OpConcatenation, Name: name, Inputs: []int{x}}, out)
		}
		return r.add(lite.Op{Type: lite.OpQuantize, Name: name, Inputs: []int{x}}, out)
	case opMean, opReduceMax:
		return r.reduce(o, name)
	case opUniSeqLSTM:
		return r.lstm(o, name)
	case opCast:
		return r.cast(o)
	case opGather:
		return r.gather(o, name)
	case opStridedSlice:
		return r.stridedSlice(o, name)
	}
	return fmt.Errorf("not supported")
}

// unary appends a one-input op.
func (r *reader) unary(o *opIn, typ lite.OpType, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	return r.add(lite.Op{Type: typ, Name: name, Inputs: []int{x}}, o.outs[0])
}

// weights reads a weighted op's filter (int8, zero points 0, one scale or
// one per output channel along qdim) and optional bias (int32 of scale
// s_in*s_w[c]).
func (r *reader) weights(o *opIn, x int, qdim int32, oc int) (w []int8, scales []float32, bias []int32, err error) {
	ft, err := r.constant(o, 1, typeInt8)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(ft.scales) != 1 && len(ft.scales) != oc {
		return nil, nil, nil, fmt.Errorf("filter %q: %d scales for %d output channels", ft.name, len(ft.scales), oc)
	}
	if len(ft.scales) > 1 && ft.qdim != qdim {
		return nil, nil, nil, fmt.Errorf("filter %q: quantized dimension %d, want %d", ft.name, ft.qdim, qdim)
	}
	for _, z := range ft.zps {
		if z != 0 {
			return nil, nil, nil, fmt.Errorf("filter %q: zero point %d (goqat's weights are symmetric)", ft.name, z)
		}
	}
	if err := r.f.charge(2 * int64(len(ft.data))); err != nil {
		return nil, nil, nil, err
	}
	w = make([]int8, len(ft.data))
	for i, b := range ft.data {
		w[i] = int8(b)
	}
	scales = append([]float32(nil), ft.scales...)
	if len(o.ins) < 3 || o.ins[2] < 0 {
		return w, scales, nil, nil
	}
	bt, err := r.constant(o, 2, typeInt32)
	if err != nil {
		return nil, nil, nil, err
	}
	if sizeOf(bt.shape) != oc {
		return nil, nil, nil, fmt.Errorf("bias %q: %d values for %d output channels", bt.name, sizeOf(bt.shape), oc)
	}
	sIn := float64(r.m.Tensors[x].Scale)
	for c := range oc {
		sw := float64(scales[0])
		if len(scales) > 1 {
			sw = float64(scales[c])
		}
		if len(bt.scales) == 0 {
			break // no quantization recorded: the kernel's own scale
		}
		bs := float64(bt.scales[0])
		if len(bt.scales) > 1 {
			if len(bt.scales) != oc {
				return nil, nil, nil, fmt.Errorf("bias %q: %d scales for %d output channels", bt.name, len(bt.scales), oc)
			}
			bs = float64(bt.scales[c])
		}
		if math.Abs(bs-sIn*sw) > 1e-6*sIn*sw {
			return nil, nil, nil, fmt.Errorf("bias %q: scale %g of channel %d is not input scale x weight scale %g", bt.name, bs, c, sIn*sw)
		}
	}
	bias, err = r.int32Data(bt)
	return w, scales, bias, err
}

// conv appends a Conv2D or DepthwiseConv2D.
func (r *reader) conv(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	in := r.m.Tensors[x].Shape
	if len(in) != 3 || r.m.Tensors[x].DType != lite.Int8 {
		return fmt.Errorf("input shape %v, want int8 (1, H, W, C)", in)
	}
	ft, err := r.constant(o, 1, typeInt8)
	if err != nil {
		return err
	}
	if len(ft.shape) != 4 {
		return fmt.Errorf("filter shape %v, want rank 4", ft.shape)
	}
	oc, kh, kw, ic := int(ft.shape[0]), int(ft.shape[1]), int(ft.shape[2]), int(ft.shape[3])
	op := lite.Op{Name: name, Inputs: []int{x}, Kernel: [2]int{kh, kw}, WeightBits: 8}
	var pad uint8
	var dil [2]int32
	if o.code == opConv2D {
		t, err := o.options(optConv2D)
		if err != nil {
			return err
		}
		if pad, err = optU8(t, convPadding, padSame); err != nil {
			return err
		}
		sw, err1 := optI32(t, convStrideW, 1)
		sh, err2 := optI32(t, convStrideH, 1)
		dw, err3 := optI32(t, convDilationW, 1)
		dh, err4 := optI32(t, convDilationH, 1)
		act, err5 := fused(t, convAct)
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return err
		}
		if ic != in[2] {
			return fmt.Errorf("filter %v for %d input channels (grouped convolutions are not supported)", ft.shape, in[2])
		}
		op.Type, op.Strides, op.Activation, dil = lite.OpConv2D, [2]int{int(sh), int(sw)}, act, [2]int32{dh, dw}
		w, scales, bias, err := r.weights(o, x, 0, oc)
		if err != nil {
			return err
		}
		// (OC, KH, KW, IC) -> (KH, KW, IC, OC)
		op.Weights = make([]int8, len(w))
		for c := range oc {
			for y := range kh {
				for xx := range kw {
					for i := range ic {
						op.Weights[((y*kw+xx)*ic+i)*oc+c] = w[((c*kh+y)*kw+xx)*ic+i]
					}
				}
			}
		}
		op.WeightShape, op.WeightScales, op.Bias = tensor.Shape{kh, kw, ic, oc}, scales, bias
	} else {
		t, err := o.options(optDepthwiseConv)
		if err != nil {
			return err
		}
		if pad, err = optU8(t, dwPadding, padSame); err != nil {
			return err
		}
		sw, err1 := optI32(t, dwStrideW, 1)
		sh, err2 := optI32(t, dwStrideH, 1)
		dw, err3 := optI32(t, dwDilationW, 1)
		dh, err4 := optI32(t, dwDilationH, 1)
		act, err5 := fused(t, dwAct)
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return err
		}
		if oc != 1 || in[2] == 0 || ic%in[2] != 0 {
			return fmt.Errorf("filter %v does not fit %d input channels", ft.shape, in[2])
		}
		op.Type, op.Strides, op.Activation, dil = lite.OpDepthwiseConv2D, [2]int{int(sh), int(sw)}, act, [2]int32{dh, dw}
		if m := ic / in[2]; m > 1 {
			op.DepthMultiplier = m
		}
		w, scales, bias, err := r.weights(o, x, 3, ic)
		if err != nil {
			return err
		}
		op.Weights, op.WeightShape, op.WeightScales, op.Bias = w, tensor.Shape{kh, kw, ic}, scales, bias
	}
	if dil[0] < 1 || dil[1] < 1 || op.Strides[0] < 1 || op.Strides[1] < 1 {
		return fmt.Errorf("strides %v and dilations %v must be positive", op.Strides, dil)
	}
	if dil != [2]int32{1, 1} {
		op.Dilation = [2]int{int(dil[0]), int(dil[1])}
	}
	var e1, e2 error
	op.Pad[0], op.Pad[1], e1 = padding(pad, in[0], kh, op.Strides[0], int(dil[0]))
	op.Pad[2], op.Pad[3], e2 = padding(pad, in[1], kw, op.Strides[1], int(dil[1]))
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	return r.add(op, o.outs[0])
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// fullyConnected appends a FullyConnected (after a Reshape to (IN) when
// the input has more dimensions).
func (r *reader) fullyConnected(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	t, err := o.options(optFullyConnected)
	if err != nil {
		return err
	}
	act, err := fused(t, fcAct)
	if err != nil {
		return err
	}
	if f, err := optU8(t, fcWeightsFmt, 0); err != nil || f != 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("weights format %d is not supported", f)
	}
	ft, err := r.constant(o, 1, typeInt8)
	if err != nil {
		return err
	}
	if len(ft.shape) != 2 {
		return fmt.Errorf("filter shape %v, want (OUT, IN)", ft.shape)
	}
	nout, nin := int(ft.shape[0]), int(ft.shape[1])
	if r.m.Tensors[x].Shape.Size() != nin || r.m.Tensors[x].DType != lite.Int8 {
		return fmt.Errorf("int8 input of shape %v for %d input features", r.m.Tensors[x].Shape, nin)
	}
	if len(r.m.Tensors[x].Shape) != 1 {
		y := r.newTensor(x, name+"/flatten", tensor.Shape{nin})
		r.m.Ops = append(r.m.Ops, lite.Op{Type: lite.OpReshape, Name: name + "/flatten", Inputs: []int{x}, Output: y})
		x = y
	}
	w, scales, bias, err := r.weights(o, x, 0, nout)
	if err != nil {
		return err
	}
	op := lite.Op{Type: lite.OpFullyConnected, Name: name, Inputs: []int{x}, Activation: act, WeightBits: 8,
		WeightShape: tensor.Shape{nin, nout}, WeightScales: scales, Bias: bias, Weights: make([]int8, len(w))}
	for i := range nin {
		for j := range nout {
			op.Weights[i*nout+j] = w[j*nin+i]
		}
	}
	ot, err := r.tensorAt(o.outs[0])
	if err != nil {
		return err
	}
	if len(ot.shape) == 2 {
		return r.add(op, o.outs[0])
	}
	// An output of more dimensions (keep_num_dims): FullyConnected to
	// (OUT), then a Reshape.
	k, err := r.activation(o.outs[0])
	if err != nil {
		return err
	}
	op.Output = r.newTensor(k, name+"/fc", tensor.Shape{nout})
	r.m.Ops = append(r.m.Ops, op)
	return r.add(lite.Op{Type: lite.OpReshape, Name: name, Inputs: []int{op.Output}}, o.outs[0])
}

// pool appends a MaxPool2D or AveragePool2D.
func (r *reader) pool(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	in := r.m.Tensors[x].Shape
	if len(in) != 3 {
		return fmt.Errorf("input shape %v, want (1, H, W, C)", in)
	}
	t, err := o.options(optPool2D)
	if err != nil {
		return err
	}
	pad, err0 := optU8(t, poolPadding, padSame)
	sw, err1 := optI32(t, poolStrideW, 1)
	sh, err2 := optI32(t, poolStrideH, 1)
	fw, err3 := optI32(t, poolFilterW, 1)
	fh, err4 := optI32(t, poolFilterH, 1)
	act, err5 := fused(t, poolAct)
	if err := firstErr(err0, err1, err2, err3, err4, err5); err != nil {
		return err
	}
	if act != "" {
		return fmt.Errorf("fused %s is not supported", act)
	}
	if sw < 1 || sh < 1 || fw < 1 || fh < 1 {
		return fmt.Errorf("filter %dx%d and strides %dx%d must be positive", fh, fw, sh, sw)
	}
	typ := lite.OpMaxPool
	if o.code == opAveragePool2D {
		typ = lite.OpAveragePool
	}
	op := lite.Op{Type: typ, Name: name, Inputs: []int{x}, Kernel: [2]int{int(fh), int(fw)}, Strides: [2]int{int(sh), int(sw)}}
	var e1, e2 error
	op.Pad[0], op.Pad[1], e1 = padding(pad, in[0], int(fh), int(sh), 1)
	op.Pad[2], op.Pad[3], e2 = padding(pad, in[1], int(fw), int(sw), 1)
	if err := firstErr(e1, e2); err != nil {
		return err
	}
	return r.add(op, o.outs[0])
}

// pad appends a Pad of the spatial axes.
func (r *reader) pad(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	pt, err := r.constant(o, 1, typeInt32)
	if err != nil {
		return err
	}
	p, err := r.int32Data(pt)
	if err != nil {
		return err
	}
	if len(r.m.Tensors[x].Shape) != 3 || len(p) != 8 || p[0] != 0 || p[1] != 0 || p[6] != 0 || p[7] != 0 {
		return fmt.Errorf("paddings %v of a %v input: only the spatial axes of (1, H, W, C) are supported", p, r.m.Tensors[x].Shape)
	}
	op := lite.Op{Type: lite.OpPad, Name: name, Inputs: []int{x}}
	for i := range 4 {
		op.Pad[i] = int(p[2+i])
	}
	return r.add(op, o.outs[0])
}

// reduce appends a GlobalAveragePool (MEAN) or GlobalMaxPool
// (REDUCE_MAX) over axes 1 and 2 of (1, H, W, C), with a Reshape to
// (1, 1, C) when keep_dims is set.
func (r *reader) reduce(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	at, err := r.constant(o, 1, typeInt32)
	if err != nil {
		return err
	}
	axes, err := r.int32Data(at)
	if err != nil {
		return err
	}
	in := r.m.Tensors[x].Shape
	if len(in) != 3 || len(axes) != 2 || !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1)) {
		return fmt.Errorf("axes %v of a %v input: only axes 1 and 2 of (1, H, W, C) are supported", axes, in)
	}
	t, err := o.options(optReducer)
	if err != nil {
		return err
	}
	keep, err := optU8(t, reducerKeep, 0)
	if err != nil {
		return err
	}
	typ := lite.OpGlobalMaxPool
	if o.code == opMean {
		typ = lite.OpGlobalAveragePool
	}
	op := lite.Op{Type: typ, Name: name, Inputs: []int{x}, TFLiteMean: o.code == opMean}
	if keep == 0 {
		return r.add(op, o.outs[0])
	}
	k, err := r.activation(o.outs[0])
	if err != nil {
		return err
	}
	op.Output = r.newTensor(k, name+"/pool", tensor.Shape{in[2]})
	r.m.Ops = append(r.m.Ops, op)
	return r.add(lite.Op{Type: lite.OpReshape, Name: name, Inputs: []int{op.Output}}, o.outs[0])
}

// stridedSlice appends a Slice: STRIDED_SLICE selecting along one axis
// (other axes whole, positive stride, no masks but begin/end masks).
func (r *reader) stridedSlice(o *opIn, name string) error {
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	var v [3][]int32
	for i := range v {
		ct, err := r.constant(o, 1+i, typeInt32)
		if err != nil {
			return err
		}
		if v[i], err = r.int32Data(ct); err != nil {
			return err
		}
	}
	shape := append(tensor.Shape{1}, r.m.Tensors[x].Shape...)
	rank := len(shape)
	if len(v[0]) != rank || len(v[1]) != rank || len(v[2]) != rank {
		return fmt.Errorf("begin, end and strides of lengths %d, %d, %d for rank %d", len(v[0]), len(v[1]), len(v[2]), rank)
	}
	t, err := o.options(optStridedSlice)
	if err != nil {
		return err
	}
	var masks [5]int32
	for i := range masks {
		if masks[i], err = optI32(t, ssBeginMask+i, 0); err != nil {
			return err
		}
	}
	if masks[2] != 0 || masks[3] != 0 {
		return fmt.Errorf("ellipsis and new-axis masks are not supported")
	}
	ax := -1
	var b, e, s int
	for i := range rank {
		n := shape[i]
		bi, ei, si := int(v[0][i]), int(v[1][i]), int(v[2][i])
		if masks[0]>>i&1 != 0 {
			bi = 0
		}
		if masks[1]>>i&1 != 0 {
			ei = n
		}
		if bi < 0 {
			bi += n
		}
		if ei < 0 {
			ei += n
		}
		if masks[4]>>i&1 != 0 { // a shrunk axis: the element at begin
			ei, si = bi+1, 1
		}
		ei = min(ei, n)
		if si < 1 || bi < 0 || bi >= ei {
			return fmt.Errorf("axis %d: begin %d, end %d, stride %d (positive strides over a non-empty range are supported)", i, bi, ei, si)
		}
		if bi == 0 && ei == n && si == 1 {
			continue
		}
		if ax >= 0 || i == 0 {
			return fmt.Errorf("slices along more than one axis or the batch axis are not supported")
		}
		ax, b, e, s = i, bi, ei, si
	}
	if ax < 0 {
		ax, b, e, s = rank-1, 0, shape[rank-1], 1
	}
	op := lite.Op{Type: lite.OpSlice, Name: name, Inputs: []int{x}, AxisFromEnd: rank - 1 - ax, Begin: b, End: e}
	if s > 1 {
		op.Step = s
	}
	if masks[4] == 0 {
		return r.add(op, o.outs[0])
	}
	// shrink_axis_mask: only the sliced axis, one element (export's last
	// step of a sequence): the Slice, then a Reshape dropping the axis.
	if masks[4] != 1<<ax || e-b > s {
		return fmt.Errorf("shrink_axis_mask %d: only the sliced axis, at one element, is supported", masks[4])
	}
	sl := slices.Clone(r.m.Tensors[x].Shape)
	sl[ax-1] = 1
	op.Output = r.newTensor(x, name+"/slice", sl)
	r.m.Ops = append(r.m.Ops, op)
	return r.add(lite.Op{Type: lite.OpReshape, Name: name, Inputs: []int{op.Output}}, o.outs[0])
}
