package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// floatExporter holds the state of one ExportFloat.
type floatExporter struct {
	m      *nn.Model
	b      *builder
	val    map[string]string       // goqat node (input or layer) -> ONNX value, internal layout
	shape  map[string]tensor.Shape // goqat node -> per-sample shape
	isOut  map[string]bool
	outVal map[string]string // goqat output node -> graph output name
}

// ExportFloat converts a float goqat model to an ONNX model (opset 13):
// an NHWC graph input with a dynamic batch "N" and a Transpose to NCHW,
// NCHW operators inside, and outputs in goqat's layout (an image output is
// transposed back to NHWC). BatchNormalization is exported as ONNX
// BatchNormalization with the moving statistics, Dropout as Identity,
// hard_swish as x*HardSigmoid(x) and silu as x*Sigmoid(x) (opset 13 has
// no HardSwish), Multiply as Mul with goqat's broadcasting. A layer ONNX
// cannot express here is an error naming it.
func ExportFloat(m *nn.Model) (*onnxpb.ModelProto, error) {
	if m == nil {
		return nil, errors.New("onnx: nil model")
	}
	e := &floatExporter{m: m, b: newBuilder(m.Name()), val: map[string]string{}, shape: map[string]tensor.Shape{},
		isOut: map[string]bool{}, outVal: map[string]string{}}
	for _, o := range m.OutputNames() {
		e.isOut[o] = true
	}
	for i, name := range m.InputNames() {
		s := m.Inputs()[i]
		in := e.b.unique(name)
		e.b.g.Input = append(e.b.g.Input, valueInfo(in, onnxpb.TensorProto_FLOAT, s))
		e.shape[name] = s
		e.val[name] = in
		if len(s) == 3 {
			e.val[name] = e.b.op("Transpose", name+"/nchw", []string{in}, attrInts("perm", toNCHW...))
		}
	}
	for _, l := range m.Layers() {
		e.shape[l.Name()] = m.OutputShape(l.Name())
		out, err := e.layer(l)
		if err != nil {
			return nil, fmt.Errorf("onnx: export layer %q (%s): %w", l.Name(), l.Type(), err)
		}
		e.val[l.Name()] = out
	}
	for i, name := range m.OutputNames() {
		v, err := e.output(name)
		if err != nil {
			return nil, err
		}
		e.b.g.Output = append(e.b.g.Output, valueInfo(v, onnxpb.TensorProto_FLOAT, m.Outputs()[i]))
	}
	meta := map[string]string{"goqat_model": m.Name(), "goqat_kind": "float",
		"goqat_layout": "input and outputs NHWC as in goqat; NCHW inside"}
	doc := fmt.Sprintf("goqat float model %q exported to ONNX opset %d.", m.Name(), Opset)
	return newModelProto(e.b.g, doc, meta, []string{"goqat_model", "goqat_kind", "goqat_layout"}), nil
}

// output returns the graph output value of goqat node name, transposing
// an image back to NHWC; a value already used as an output is copied
// with Identity so that outputs have distinct names.
func (e *floatExporter) output(name string) (string, error) {
	v, ok := e.val[name]
	if !ok {
		return "", fmt.Errorf("onnx: model output %q was not exported", name)
	}
	if len(e.shape[name]) == 3 {
		return e.b.op("Transpose", name, []string{v}, attrInts("perm", toNHWC...)), nil
	}
	for _, g := range e.b.g.Input {
		if g.GetName() == v {
			return e.b.op("Identity", name, []string{v}), nil
		}
	}
	for _, g := range e.b.g.Output {
		if g.GetName() == v {
			return e.b.op("Identity", name, []string{v}), nil
		}
	}
	return v, nil
}

// resultName is the ONNX name of layer l's output: its name, or name/nchw
// for an image that is also a model output (transposed later).
func (e *floatExporter) resultName(l nn.Layer) string {
	if e.isOut[l.Name()] && len(e.shape[l.Name()]) == 3 {
		return l.Name() + "/nchw"
	}
	return l.Name()
}

// inputs returns the ONNX values feeding layer l.
func (e *floatExporter) inputs(l nn.Layer) ([]string, []tensor.Shape, error) {
	var vs []string
	var ss []tensor.Shape
	for _, in := range e.m.Inbound(l.Name()) {
		v, ok := e.val[in]
		if !ok {
			return nil, nil, fmt.Errorf("input %q was not exported", in)
		}
		vs, ss = append(vs, v), append(ss, e.shape[in])
	}
	if len(vs) == 0 {
		return nil, nil, errors.New("no inputs")
	}
	return vs, ss, nil
}

// samePads is the explicit padding (top, bottom, left, right) of a Keras
// padding mode on an (H, W, C) input.
func samePads(in tensor.Shape, k, s [2]int, mode string) [4]int {
	if mode != "same" {
		return [4]int{}
	}
	t, b := ops.SamePadding(in[0], k[0], s[0])
	l, r := ops.SamePadding(in[1], k[1], s[1])
	return [4]int{t, b, l, r}
}

// layer emits the nodes of one layer and returns its output value.
func (e *floatExporter) layer(l nn.Layer) (string, error) {
	ins, shapes, err := e.inputs(l)
	if err != nil {
		return "", err
	}
	x, xs := ins[0], shapes[0]
	out := e.resultName(l)
	name := l.Name()
	b := e.b
	image := len(xs) == 3
	switch v := l.(type) {
	case *nn.Conv2D:
		k := v.Kernel.Value // (KH,KW,C/G,OC)
		return e.conv(name, out, x, xs, k.Data, k.Shape[2], k.Shape[3], v.GroupCount(), v.KernelSize, v.Strides, v.Dilation(), v.Padding, v.Bias), nil
	case *nn.DepthwiseConv2D:
		// (KH,KW,C,M) is (KH,KW,1,C*M): a Conv with group C whose group c
		// holds output channels c*M .. c*M+M-1.
		k := v.DepthwiseKernel.Value
		return e.conv(name, out, x, xs, k.Data, 1, k.Shape[2]*k.Shape[3], k.Shape[2], v.KernelSize, v.Strides, v.Dilation(), v.Padding, v.Bias), nil
	case *nn.SeparableConv2D:
		dw, pw := v.Split()
		one := [2]int{1, 1}
		mid := e.conv(dw.Name(), dw.Name(), x, xs, dw.DepthwiseKernel.Value.Data, 1, xs[2], xs[2], dw.KernelSize, dw.Strides, one, dw.Padding, dw.Bias)
		ms := tensor.Shape{0, 0, xs[2]} // 1x1 valid: only the channels matter
		k := pw.Kernel.Value
		return e.conv(pw.Name(), out, mid, ms, k.Data, k.Shape[2], k.Shape[3], 1, pw.KernelSize, pw.Strides, one, pw.Padding, pw.Bias), nil
	case *nn.Dense:
		if len(xs) != 1 {
			return "", fmt.Errorf("input shape %v, want rank 1", xs)
		}
		k := v.Kernel.Value
		gin := []string{x, b.floats(name+"/kernel", []int{k.Shape[0], k.Shape[1]}, k.Data)}
		if v.Bias != nil {
			gin = append(gin, b.floats(name+"/bias", []int{v.Units}, v.Bias.Value.Data))
		}
		return b.node("Gemm", name, gin, []string{b.unique(out)}), nil
	case *nn.BatchNormalization:
		if len(xs) != 3 && len(xs) != 1 {
			return "", fmt.Errorf("input shape %v: ONNX normalizes axis 1, so only (H, W, C) and (C) inputs export", xs)
		}
		c := xs[len(xs)-1]
		bin := []string{x,
			b.floats(name+"/gamma", []int{c}, v.Gamma.Value.Data),
			b.floats(name+"/beta", []int{c}, v.Beta.Value.Data),
			b.floats(name+"/moving_mean", []int{c}, v.MovingMean.Value.Data),
			b.floats(name+"/moving_variance", []int{c}, v.MovingVariance.Value.Data)}
		return b.node("BatchNormalization", name, bin, []string{b.unique(out)},
			attrFloat("epsilon", float32(v.Epsilon)), attrFloat("momentum", float32(v.Momentum))), nil
	case *nn.ReLU:
		return b.node("Relu", name, []string{x}, []string{b.unique(out)}), nil
	case *nn.ReLU6:
		return e.relu6(name, out, x), nil
	case *nn.Activation:
		return e.activation(name, out, x, xs, v.Func)
	case *nn.Add:
		acc := x
		for i, y := range ins[1:] {
			o := name + "/partial"
			if i == len(ins)-2 {
				o = out
			}
			acc = b.node("Add", name, []string{acc, y}, []string{b.unique(o)})
		}
		return acc, nil
	case *nn.Concatenate:
		return b.node("Concat", name, ins, []string{b.unique(out)}, attrInt("axis", onnxAxis(v.Axis, len(xs)))), nil
	case *nn.Multiply:
		return multiply(b, name, out, ins, shapes, e.shape[name])
	case *nn.MaxPooling2D:
		return b.node("MaxPool", name, []string{x}, []string{b.unique(out)},
			windowAttrs(v.PoolSize, v.Strides, samePads(xs, v.PoolSize, v.Strides, v.Padding))...), nil
	case *nn.AveragePooling2D:
		at := append(windowAttrs(v.PoolSize, v.Strides, samePads(xs, v.PoolSize, v.Strides, v.Padding)), attrInt("count_include_pad", 0))
		return b.node("AveragePool", name, []string{x}, []string{b.unique(out)}, at...), nil
	case *nn.GlobalAveragePooling2D:
		g := b.node("GlobalAveragePool", name, []string{x}, []string{b.unique(name + "/nc11")})
		return b.node("Flatten", name+"/flatten", []string{g}, []string{b.unique(out)}, attrInt("axis", 1)), nil
	case *nn.GlobalMaxPooling2D:
		g := b.node("GlobalMaxPool", name, []string{x}, []string{b.unique(name + "/nc11")})
		return b.node("Flatten", name+"/flatten", []string{g}, []string{b.unique(out)}, attrInt("axis", 1)), nil
	case *nn.Flatten:
		if image {
			x = b.op("Transpose", name+"/nhwc", []string{x}, attrInts("perm", toNHWC...))
		}
		return b.node("Flatten", name, []string{x}, []string{b.unique(out)}, attrInt("axis", 1)), nil
	case *nn.Reshape:
		if image {
			x = b.op("Transpose", name+"/nhwc", []string{x}, attrInts("perm", toNHWC...))
		}
		os := e.shape[name]
		dims := []int64{-1}
		for _, d := range os {
			dims = append(dims, int64(d))
		}
		shp := b.int64s(name+"/shape", []int{len(dims)}, dims)
		if len(os) == 3 {
			r := b.op("Reshape", name+"/nhwc_out", []string{x, shp})
			return b.node("Transpose", name, []string{r}, []string{b.unique(out)}, attrInts("perm", toNCHW...)), nil
		}
		return b.node("Reshape", name, []string{x, shp}, []string{b.unique(out)}), nil
	case *nn.Dropout:
		return b.node("Identity", name, []string{x}, []string{b.unique(out)}), nil
	case *nn.ZeroPadding2D:
		p := v.Padding
		pads := b.int64s(name+"/pads", []int{8}, []int64{0, 0, int64(p[0]), int64(p[2]), 0, 0, int64(p[1]), int64(p[3])})
		return b.node("Pad", name, []string{x, pads}, []string{b.unique(out)}), nil
	case *nn.Slice:
		return sliceNode(b, name, b.unique(out), x, len(xs), v.SampleAxis(), v.Begin, v.End, v.Step), nil
	}
	if y, ok, err := e.sequenceLayer(l, x, xs, out); ok {
		return y, err
	}
	return "", fmt.Errorf("layer type %s cannot be exported to ONNX (supported: Conv2D, DepthwiseConv2D, SeparableConv2D, "+
		"Dense, BatchNormalization, ReLU, ReLU6, Activation, Add, Concatenate, Multiply, MaxPooling2D, AveragePooling2D, "+
		"GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Reshape, Dropout, ZeroPadding2D, Slice, Embedding, Conv1D, "+
		"MaxPooling1D, GlobalAveragePooling1D, LSTM, GRU, SimpleRNN, Bidirectional; convert QAT models with "+
		"convert.Convert first)", l.Type())
}

// conv emits a Conv of a goqat kernel (KH,KW,C/group,OC) with group
// group and dilation dil (taps dil apart; 'same' padding covers the
// dilated window).
func (e *floatExporter) conv(name, out, x string, xs tensor.Shape, k []float32, c, oc, group int, ks, st, dil [2]int, padding string, bias *nn.Param) string {
	b := e.b
	w := convWeights(k, ks[0], ks[1], c, oc)
	cin := []string{x, b.floats(name+"/kernel", []int{oc, c, ks[0], ks[1]}, w)}
	if bias != nil {
		cin = append(cin, b.floats(name+"/bias", []int{oc}, bias.Value.Data))
	}
	pad := [4]int{}
	if padding == "same" {
		pad = samePads(xs, [2]int{ops.DilatedSize(ks[0], dil[0]), ops.DilatedSize(ks[1], dil[1])}, st, padding)
	}
	at := append(windowAttrs(ks, st, pad), attrInt("group", int64(group)))
	at = append(at, dilationAttrs(dil)...)
	return b.node("Conv", name, cin, []string{b.unique(out)}, at...)
}

// relu6 emits Clip(x, 0, 6).
func (e *floatExporter) relu6(name, out, x string) string {
	lo := e.b.floats(name+"/min", nil, []float32{0})
	hi := e.b.floats(name+"/max", nil, []float32{6})
	return e.b.node("Clip", name, []string{x, lo, hi}, []string{e.b.unique(out)})
}

// activation emits a named Keras activation.
func (e *floatExporter) activation(name, out, x string, xs tensor.Shape, fn string) (string, error) {
	b := e.b
	switch fn {
	case "relu":
		return b.node("Relu", name, []string{x}, []string{b.unique(out)}), nil
	case "relu6":
		return e.relu6(name, out, x), nil
	case "sigmoid":
		return b.node("Sigmoid", name, []string{x}, []string{b.unique(out)}), nil
	case "tanh":
		return b.node("Tanh", name, []string{x}, []string{b.unique(out)}), nil
	case "softmax":
		return b.node("Softmax", name, []string{x}, []string{b.unique(out)}, attrInt("axis", onnxAxis(-1, len(xs)))), nil
	case "linear":
		return b.node("Identity", name, []string{x}, []string{b.unique(out)}), nil
	}
	if y, ok := tableActivation(b, fn, name, out, x); ok {
		return y, nil
	}
	return "", fmt.Errorf("activation %q cannot be exported", fn)
}

// sliceNode emits an ONNX Slice (constant starts, ends, axes and steps)
// of value x, a tensor with rank per-sample dimensions, keeping positions
// begin, begin+step, ... below end of per-sample axis ax (0: a sample's
// first dimension; the axis is mapped to NCHW for images), into out.
func sliceNode(b *builder, name, out, x string, rank, ax, begin, end, step int) string {
	one := []int{1}
	ins := []string{x,
		b.int64s(name+"/starts", one, []int64{int64(begin)}),
		b.int64s(name+"/ends", one, []int64{int64(end)}),
		b.int64s(name+"/axes", one, []int64{onnxAxis(ax+1, rank)}),
		b.int64s(name+"/steps", one, []int64{int64(max(step, 1))})}
	return b.node("Slice", name, ins, []string{out})
}

// onnxAxis maps a Keras axis (batch = 0, negative from the end) of a
// tensor with rank per-sample dimensions to the ONNX axis of the exported
// tensor (NCHW for images).
func onnxAxis(axis, rank int) int64 {
	a := axis
	if a < 0 {
		a += rank + 1
	}
	if rank == 3 {
		return []int64{0, 2, 3, 1}[a] // N, H, W, C -> N, C, H, W positions
	}
	return int64(a)
}
