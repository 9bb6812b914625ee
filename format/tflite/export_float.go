package tflite

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Float export: a float nn model as FLOAT32 tensors and TFLite's float
// kernels (operator version 1). TFLite is NHWC like goqat, so no layout
// change is needed. BatchNormalization (inference: the moving statistics)
// is a MUL and an ADD by per-channel constants, hard_sigmoid
// relu6(x+3)/6, silu x*sigmoid(x), Dropout and linear activations the
// identity.

// floatExporter holds the state of one MarshalFloat.
type floatExporter struct {
	m     *nn.Model
	g     *graph
	val   map[string]int32 // goqat node -> file tensor
	shape map[string]tensor.Shape
}

// MarshalFloat returns the float model m as a .tflite flatbuffer of
// FLOAT32 tensors (batch 1). A layer TFLite cannot express here is an
// error naming it.
func MarshalFloat(m *nn.Model) ([]byte, error) {
	if m == nil {
		return nil, errors.New("tflite: nil model")
	}
	e := &floatExporter{m: m, g: &graph{buffers: [][]byte{nil}}, val: map[string]int32{}, shape: map[string]tensor.Shape{}}
	for i, name := range m.InputNames() {
		s := m.Inputs()[i]
		k := e.g.add(fileTensor{name: name, shape: shapeOf(s), typ: typeFloat32})
		e.val[name], e.shape[name] = k, s
		e.g.inputs = append(e.g.inputs, k)
	}
	for _, l := range m.Layers() {
		e.shape[l.Name()] = m.OutputShape(l.Name())
		out, err := e.layer(l)
		if err != nil {
			return nil, fmt.Errorf("tflite: export layer %q (%s): %w", l.Name(), l.Type(), err)
		}
		e.val[l.Name()] = out
	}
	for _, name := range m.OutputNames() {
		k, ok := e.val[name]
		if !ok {
			return nil, fmt.Errorf("tflite: model output %q was not exported", name)
		}
		e.g.outputs = append(e.g.outputs, k)
	}
	return e.g.serialize("goqat " + m.Name()), nil
}

// WriteFloatFile writes the float model m as a .tflite file at path,
// atomically.
func WriteFloatFile(path string, m *nn.Model) error {
	b, err := MarshalFloat(m)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// writeAtomic writes b to a temporary file beside path and renames it.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".goqat-tflite-*")
	if err != nil {
		return fmt.Errorf("tflite: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("tflite: %w", err)
	}
	return nil
}

// floats adds a constant float32 tensor.
func (e *floatExporter) floats(name string, shape []int32, v []float32) int32 {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return e.g.constant(name, typeFloat32, shape, b, nil, nil, 0)
}

// act adds a float activation tensor of per-sample shape s.
func (e *floatExporter) act(name string, s tensor.Shape) int32 {
	return e.g.add(fileTensor{name: name, shape: shapeOf(s), typ: typeFloat32})
}

// op appends a float operator (version 1) writing a new tensor.
func (e *floatExporter) op(code int32, name string, s tensor.Shape, optType byte, opts func(*builder) uint32, ins ...int32) int32 {
	out := e.act(name, s)
	e.g.op(fileOp{code: code, version: 1, inputs: ins, outputs: []int32{out}, optType: optType, opts: opts})
	return out
}

// padMode maps a Keras padding mode.
func padMode(p string) (int8, error) {
	switch p {
	case "same":
		return padSame, nil
	case "valid", "":
		return padValid, nil
	}
	return 0, fmt.Errorf("padding %q", p)
}

// layer emits one layer's operators and returns its output tensor.
func (e *floatExporter) layer(l nn.Layer) (int32, error) {
	var ins []int32
	var shapes []tensor.Shape
	for _, in := range e.m.Inbound(l.Name()) {
		k, ok := e.val[in]
		if !ok {
			return 0, fmt.Errorf("input %q was not exported", in)
		}
		ins, shapes = append(ins, k), append(shapes, e.shape[in])
	}
	if len(ins) == 0 {
		return 0, errors.New("no inputs")
	}
	x, xs := ins[0], shapes[0]
	name, osh := l.Name(), e.shape[l.Name()]
	switch v := l.(type) {
	case *nn.Conv2D:
		if v.GroupCount() > 1 {
			return 0, fmt.Errorf("grouped convolution (%d groups) is not exported", v.GroupCount())
		}
		k := v.Kernel.Value // (KH,KW,C,OC)
		return e.conv(name, x, osh, k.Data, k.Shape, v.Strides, v.Dilation(), v.Padding, v.Bias, 0)
	case *nn.DepthwiseConv2D:
		k := v.DepthwiseKernel.Value // (KH,KW,C,M)
		return e.conv(name, x, osh, k.Data, k.Shape, v.Strides, v.Dilation(), v.Padding, v.Bias, k.Shape[3])
	case *nn.SeparableConv2D:
		dw, pw := v.Split()
		k := dw.DepthwiseKernel.Value
		mid, err := e.conv(dw.Name(), x, tensor.Shape{osh[0], osh[1], k.Shape[2] * k.Shape[3]}, k.Data, k.Shape, dw.Strides, [2]int{1, 1}, dw.Padding, dw.Bias, k.Shape[3])
		if err != nil {
			return 0, err
		}
		pk := pw.Kernel.Value
		return e.conv(pw.Name(), mid, osh, pk.Data, pk.Shape, pw.Strides, [2]int{1, 1}, pw.Padding, pw.Bias, 0)
	case *nn.Dense:
		if len(xs) != 1 {
			return 0, fmt.Errorf("input shape %v, want rank 1", xs)
		}
		k := v.Kernel.Value // (IN, OUT)
		nin, nout := k.Shape[0], k.Shape[1]
		w := make([]float32, len(k.Data))
		for i := range nin {
			for o := range nout {
				w[o*nin+i] = k.Data[i*nout+o]
			}
		}
		wt := e.floats(name+"/kernel", []int32{int32(nout), int32(nin)}, w)
		bias := make([]float32, nout)
		if v.Bias != nil {
			copy(bias, v.Bias.Value.Data)
		}
		bt := e.floats(name+"/bias", []int32{int32(nout)}, bias)
		return e.op(opFullyConnected, name, osh, optFullyConnected, func(b *builder) uint32 {
			b.StartObject(fcFields)
			return uint32(b.EndObject())
		}, x, wt, bt), nil
	case *nn.BatchNormalization:
		if v.Axis != -1 && v.Axis != len(xs) {
			return 0, fmt.Errorf("axis %d: only the last (channel) axis exports", v.Axis)
		}
		c := xs[len(xs)-1]
		scale, shift := make([]float32, c), make([]float32, c)
		for i := range c {
			s := float64(v.Gamma.Value.Data[i]) / math.Sqrt(float64(v.MovingVariance.Value.Data[i])+v.Epsilon)
			scale[i] = float32(s)
			shift[i] = float32(float64(v.Beta.Value.Data[i]) - float64(v.MovingMean.Value.Data[i])*s)
		}
		mul := e.op(opMul, name+"/scale", osh, optMul, emptyOptions, x, e.floats(name+"/gamma_invstd", []int32{int32(c)}, scale))
		return e.op(opAdd, name, osh, optAdd, emptyOptions, mul, e.floats(name+"/shift", []int32{int32(c)}, shift)), nil
	case *nn.ReLU:
		return e.op(opRelu, name, osh, optNone, nil, x), nil
	case *nn.ReLU6:
		return e.op(opRelu6, name, osh, optNone, nil, x), nil
	case *nn.Activation:
		return e.activation(name, x, osh, v.Func)
	case *nn.Add:
		acc := x
		for i, y := range ins[1:] {
			n := name
			if i < len(ins)-2 {
				n = fmt.Sprintf("%s/partial%d", name, i)
			}
			acc = e.op(opAdd, n, osh, optAdd, emptyOptions, acc, y)
		}
		return acc, nil
	case *nn.Multiply:
		acc := x
		for i, y := range ins[1:] {
			n := name
			if i < len(ins)-2 {
				n = fmt.Sprintf("%s/partial%d", name, i)
			}
			acc = e.op(opMul, n, osh, optMul, emptyOptions, acc, y)
		}
		return acc, nil
	case *nn.Concatenate:
		axis := int32(v.Axis)
		if axis < 0 {
			axis += int32(len(xs)) + 1
		}
		return e.op(opConcatenation, name, osh, optConcatenation, func(b *builder) uint32 {
			b.StartObject(2)
			b.PrependInt32Slot(concatAxis, axis, 0)
			return uint32(b.EndObject())
		}, ins...), nil
	case *nn.MaxPooling2D, *nn.AveragePooling2D:
		code, ps, st, pm := int32(opMaxPool2D), [2]int{}, [2]int{}, ""
		if p, ok := v.(*nn.MaxPooling2D); ok {
			ps, st, pm = p.PoolSize, p.Strides, p.Padding
		} else {
			p := v.(*nn.AveragePooling2D)
			code, ps, st, pm = opAveragePool2D, p.PoolSize, p.Strides, p.Padding
		}
		pad, err := padMode(pm)
		if err != nil {
			return 0, err
		}
		out := e.act(name, osh)
		e.g.pool(code, name, x, out, pad, ps, st)
		e.g.ops[len(e.g.ops)-1].version = 1
		return out, nil
	case *nn.GlobalAveragePooling2D, *nn.GlobalMaxPooling2D:
		code := int32(opMean)
		if _, ok := v.(*nn.GlobalMaxPooling2D); ok {
			code = opReduceMax
		}
		axes := e.g.int32Const(name+"/axes", []int32{1, 2})
		return e.op(code, name, osh, optReducer, emptyOptions, x, axes), nil
	case *nn.Flatten, *nn.Reshape:
		out := e.act(name, osh)
		e.g.reshape(name, x, out)
		return out, nil
	case *nn.Dropout:
		return x, nil
	case *nn.ZeroPadding2D:
		p := v.Padding
		pads := e.g.int32Const(name+"/paddings", []int32{0, 0, int32(p[0]), int32(p[1]), int32(p[2]), int32(p[3]), 0, 0}, 4, 2)
		return e.op(opPad, name, osh, optPad, emptyOptions, x, pads), nil
	case *nn.Slice:
		r := len(xs) + 1
		ax := v.SampleAxis() + 1
		begin, end, strides := make([]int32, r), make([]int32, r), make([]int32, r)
		full := shapeOf(xs)
		for i := range r {
			end[i], strides[i] = full[i], 1
		}
		begin[ax], end[ax], strides[ax] = int32(v.Begin), int32(v.End), int32(max(v.Step, 1))
		return e.op(opStridedSlice, name, osh, optStridedSlice, emptyOptions, x,
			e.g.int32Const(name+"/begin", begin), e.g.int32Const(name+"/end", end), e.g.int32Const(name+"/strides", strides)), nil
	}
	return 0, fmt.Errorf("layer type %s cannot be exported to TFLite (convert QAT models to integer models first)", l.Type())
}

// conv emits a float CONV_2D (m = 0: kernel (KH,KW,C,OC), written
// (OC,KH,KW,C)) or DEPTHWISE_CONV_2D (kernel (KH,KW,C,M), written
// (1,KH,KW,C*M), depth multiplier m).
func (e *floatExporter) conv(name string, x int32, osh tensor.Shape, k []float32, ks tensor.Shape, st, dil [2]int, padding string, bias *nn.Param, m int) (int32, error) {
	pad, err := padMode(padding)
	if err != nil {
		return 0, err
	}
	kh, kw := ks[0], ks[1]
	var w []float32
	var wshape []int32
	oc := ks[3]
	if m == 0 {
		c := ks[2]
		w = make([]float32, len(k))
		for y := range kh {
			for xx := range kw {
				for i := range c {
					for o := range oc {
						w[((o*kh+y)*kw+xx)*c+i] = k[((y*kw+xx)*c+i)*oc+o]
					}
				}
			}
		}
		wshape = []int32{int32(oc), int32(kh), int32(kw), int32(c)}
	} else {
		oc = ks[2] * ks[3]
		w, wshape = k, []int32{1, int32(kh), int32(kw), int32(oc)}
	}
	wt := e.floats(name+"/kernel", wshape, w)
	bv := make([]float32, oc)
	if bias != nil {
		copy(bv, bias.Value.Data)
	}
	bt := e.floats(name+"/bias", []int32{int32(oc)}, bv)
	dh, dw := int32(max(dil[0], 1)), int32(max(dil[1], 1))
	if m == 0 {
		return e.op(opConv2D, name, osh, optConv2D, func(b *builder) uint32 {
			b.StartObject(convFields)
			b.PrependInt8Slot(convPadding, pad, 0)
			b.PrependInt32Slot(convStrideW, int32(st[1]), 0)
			b.PrependInt32Slot(convStrideH, int32(st[0]), 0)
			b.PrependInt32Slot(convDilationW, dw, 1)
			b.PrependInt32Slot(convDilationH, dh, 1)
			return uint32(b.EndObject())
		}, x, wt, bt), nil
	}
	return e.op(opDepthwiseConv, name, osh, optDepthwiseConv, func(b *builder) uint32 {
		b.StartObject(dwFields)
		b.PrependInt8Slot(dwPadding, pad, 0)
		b.PrependInt32Slot(dwStrideW, int32(st[1]), 0)
		b.PrependInt32Slot(dwStrideH, int32(st[0]), 0)
		b.PrependInt32Slot(dwMultiplier, int32(m), 0)
		b.PrependInt32Slot(dwDilationW, dw, 1)
		b.PrependInt32Slot(dwDilationH, dh, 1)
		return uint32(b.EndObject())
	}, x, wt, bt), nil
}

// activation emits a named Keras activation.
func (e *floatExporter) activation(name string, x int32, osh tensor.Shape, fn string) (int32, error) {
	switch fn {
	case "relu":
		return e.op(opRelu, name, osh, optNone, nil, x), nil
	case "relu6":
		return e.op(opRelu6, name, osh, optNone, nil, x), nil
	case "sigmoid":
		return e.op(opLogistic, name, osh, optNone, nil, x), nil
	case "tanh":
		return e.op(opTanh, name, osh, optNone, nil, x), nil
	case "softmax":
		return e.op(opSoftmax, name, osh, optSoftmax, func(b *builder) uint32 {
			b.StartObject(1)
			b.PrependFloat32Slot(softmaxBeta, 1, 0)
			return uint32(b.EndObject())
		}, x), nil
	case "linear":
		return x, nil
	case "hard_swish":
		return e.op(opHardSwish, name, osh, optHardSwish, emptyOptions, x), nil
	case "hard_sigmoid":
		// relu6(x + 3) / 6
		p := e.op(opAdd, name+"/plus3", osh, optAdd, emptyOptions, x, e.floats(name+"/three", []int32{1}, []float32{3}))
		r := e.op(opRelu6, name+"/relu6", osh, optNone, nil, p)
		return e.op(opMul, name, osh, optMul, emptyOptions, r, e.floats(name+"/sixth", []int32{1}, []float32{1.0 / 6})), nil
	case "silu", "swish":
		s := e.op(opLogistic, name+"/sigmoid", osh, optNone, nil, x)
		return e.op(opMul, name, osh, optMul, emptyOptions, x, s), nil
	}
	return 0, fmt.Errorf("activation %q cannot be exported", fn)
}
