package tflite

import (
	"fmt"

	"github.com/goqat/goqat/lite"
)

// The operator versions written: the versions TFLite's converter gives
// each op with int8 tensors (docs/tflite.md, Operators).
var opVersions = map[int32]int32{
	opConv2D: 3, opDepthwiseConv: 3, opFullyConnected: 4, opAdd: 2, opConcatenation: 2,
	opMaxPool2D: 2, opAveragePool2D: 2, opMean: 2, opReshape: 1, opPad: 2, opSoftmax: 2,
	opLogistic: 2, opTanh: 2, opQuantize: 2, opDequantize: 2, opHardSwish: 1, opMul: 2,
	opStridedSlice: 2, opReduceMax: 2,
}

// activation returns the fused activation's TFLite code.
func activation(a string) (int8, error) {
	switch a {
	case "":
		return actNone, nil
	case "relu":
		return actRelu, nil
	case "relu6":
		return actRelu6, nil
	}
	return 0, fmt.Errorf("fused activation %q", a)
}

// window describes a convolution or pool window along one axis: input
// size, kernel, stride, dilation and padding before/after.
type window struct{ n, k, s, d, a, b int }

// tflitePadding returns the TFLite padding that gives exactly the window's
// padding (SAME or VALID), or ok false.
func tflitePadding(ws ...window) (pad int8, ok bool) {
	valid, same := true, true
	for _, w := range ws {
		if w.a != 0 || w.b != 0 {
			valid = false
		}
		eff := (w.k-1)*max(w.d, 1) + 1
		out := (w.n + w.s - 1) / w.s
		total := max((out-1)*w.s+eff-w.n, 0)
		if w.a != total/2 || w.b != total-total/2 {
			same = false
		}
	}
	switch {
	case valid:
		return padValid, true
	case same:
		return padSame, true
	}
	return 0, false
}

// emit appends the operators computing one lite op.
func (g *graph) emit(op *lite.Op) error {
	ins := make([]int32, len(op.Inputs))
	for i, x := range op.Inputs {
		k, err := g.tensor(x)
		if err != nil {
			return err
		}
		ins[i] = k
	}
	out, err := g.tensor(op.Output)
	if err != nil {
		return err
	}
	act, err := activation(op.Activation)
	if err != nil {
		return err
	}
	noAct := func() error {
		if op.Activation != "" {
			return fmt.Errorf("a fused %s has no TFLite equivalent on this op", op.Activation)
		}
		return nil
	}
	simple := func(code int32, optType byte, opts func(*builder) uint32, inputs ...int32) {
		g.op(fileOp{code: code, version: opVersions[code], inputs: inputs, outputs: []int32{out},
			optType: optType, opts: opts})
	}
	switch op.Type {
	case lite.OpConv2D, lite.OpDepthwiseConv2D:
		return g.conv(op, ins[0], out, act)
	case lite.OpFullyConnected:
		return g.fullyConnected(op, ins[0], out, act)
	case lite.OpAdd:
		if len(ins) != 2 {
			return fmt.Errorf("Add of %d inputs has no TFLite int8 equivalent (ADD takes 2)", len(ins))
		}
		simple(opAdd, optAdd, func(b *builder) uint32 {
			b.StartObject(1)
			b.PrependInt8Slot(addAct, act, 0)
			return uint32(b.EndObject())
		}, ins...)
	case lite.OpMul:
		simple(opMul, optMul, func(b *builder) uint32 {
			b.StartObject(1)
			b.PrependInt8Slot(mulAct, act, 0)
			return uint32(b.EndObject())
		}, ins...)
	case lite.OpConcatenation:
		return g.concat(op, ins, out)
	case lite.OpMaxPool, lite.OpAveragePool:
		if err := noAct(); err != nil {
			return err
		}
		in := g.tensors[ins[0]].shape
		pad, ok := tflitePadding(window{n: int(in[1]), k: op.Kernel[0], s: op.Strides[0], a: op.Pad[0], b: op.Pad[1]},
			window{n: int(in[2]), k: op.Kernel[1], s: op.Strides[1], a: op.Pad[2], b: op.Pad[3]})
		if !ok && op.Type == lite.OpMaxPool && g.m.NeverBelowZeroPoint(op.Inputs[0]) {
			// A max pooling whose input is never below its zero point (a
			// fused ReLU before it: FoldPads folded a Pad into it): a PAD
			// of the zero point, then the pooling without padding, the
			// same codes (import folds them back).
			ps := g.tensors[ins[0]].shape
			padded := g.like(ins[0], op.Name+"/pad", []int32{ps[0], ps[1] + int32(op.Pad[0]+op.Pad[1]), ps[2] + int32(op.Pad[2]+op.Pad[3]), ps[3]})
			pads := g.int32Const(op.Name+"/paddings", []int32{0, 0, int32(op.Pad[0]), int32(op.Pad[1]),
				int32(op.Pad[2]), int32(op.Pad[3]), 0, 0}, 4, 2)
			g.op(fileOp{code: opPad, version: opVersions[opPad], inputs: []int32{ins[0], pads}, outputs: []int32{padded},
				optType: optPad, opts: emptyOptions})
			g.pool(opMaxPool2D, op.Name, padded, out, padValid, op.Kernel, op.Strides)
			return nil
		}
		if !ok {
			return fmt.Errorf("padding %v is neither TFLite's SAME nor VALID", op.Pad)
		}
		code := int32(opMaxPool2D)
		if op.Type == lite.OpAveragePool {
			code = opAveragePool2D
		}
		g.pool(code, op.Name, ins[0], out, pad, op.Kernel, op.Strides)
	case lite.OpGlobalAveragePool, lite.OpGlobalMaxPool:
		// A pool over the whole image (VALID, output 1x1) and a RESHAPE
		// to (1, C): the same integer mean or maximum as goqat's.
		in := g.tensors[ins[0]].shape
		if op.TFLiteMean {
			// Read from a MEAN: written back as one (keep_dims false).
			axes := g.int32Const(op.Name+"/axes", []int32{1, 2}, 2)
			g.op(fileOp{code: opMean, version: opVersions[opMean], inputs: []int32{ins[0], axes}, outputs: []int32{out},
				optType: optReducer, opts: emptyOptions})
			return nil
		}
		code := int32(opMaxPool2D)
		if op.Type == lite.OpGlobalAveragePool {
			code = opAveragePool2D
		}
		tmp := g.like(out, op.Name+"/pool", []int32{1, 1, 1, in[3]})
		g.pool(code, op.Name, ins[0], tmp, padValid, [2]int{int(in[1]), int(in[2])}, [2]int{1, 1})
		g.reshape(op.Name, tmp, out)
	case lite.OpReshape:
		g.reshape(op.Name, ins[0], out)
	case lite.OpPad:
		pads := g.int32Const(op.Name+"/paddings", []int32{0, 0, int32(op.Pad[0]), int32(op.Pad[1]),
			int32(op.Pad[2]), int32(op.Pad[3]), 0, 0}, 4, 2)
		simple(opPad, optPad, emptyOptions, ins[0], pads)
	case lite.OpSoftmax:
		simple(opSoftmax, optSoftmax, func(b *builder) uint32 {
			b.StartObject(1)
			b.PrependFloat32Slot(softmaxBeta, 1, 0)
			return uint32(b.EndObject())
		}, ins[0])
	case lite.OpLogistic:
		simple(opLogistic, optNone, nil, ins[0])
	case lite.OpTanh:
		simple(opTanh, optNone, nil, ins[0])
	case lite.OpHardSwish:
		if err := noAct(); err != nil {
			return err
		}
		simple(opHardSwish, optHardSwish, emptyOptions, ins[0])
	case lite.OpQuantize:
		simple(opQuantize, optQuantize, emptyOptions, ins[0])
	case lite.OpDequantize:
		simple(opDequantize, optDequantize, emptyOptions, ins[0])
	case lite.OpSlice:
		return g.slice(op, ins[0], out)
	case lite.OpLSTM, lite.OpGRU, lite.OpSimpleRNN:
		return g.recurrent(op, ins[0], out)
	case lite.OpEmbedding:
		return g.embedding(op, ins[0], out)
	default:
		return fmt.Errorf("op %s has no TFLite equivalent", op.Type)
	}
	return nil
}

// emptyOptions writes an options table without fields.
func emptyOptions(b *builder) uint32 {
	b.StartObject(0)
	return uint32(b.EndObject())
}

// pool appends a MAX_POOL_2D or AVERAGE_POOL_2D.
func (g *graph) pool(code int32, name string, in, out int32, pad int8, kernel, strides [2]int) {
	g.op(fileOp{code: code, version: opVersions[code], inputs: []int32{in}, outputs: []int32{out},
		optType: optPool2D, opts: func(b *builder) uint32 {
			b.StartObject(poolFields)
			b.PrependInt8Slot(poolPadding, pad, 0)
			b.PrependInt32Slot(poolStrideW, int32(strides[1]), 0)
			b.PrependInt32Slot(poolStrideH, int32(strides[0]), 0)
			b.PrependInt32Slot(poolFilterW, int32(kernel[1]), 0)
			b.PrependInt32Slot(poolFilterH, int32(kernel[0]), 0)
			return uint32(b.EndObject())
		}})
}

// reshape appends a RESHAPE of in to out's shape (the shape as a constant
// input and as new_shape).
func (g *graph) reshape(name string, in, out int32) {
	shape := g.tensors[out].shape
	st := g.int32Const(name+"/shape", shape)
	g.op(fileOp{code: opReshape, version: opVersions[opReshape], inputs: []int32{in, st}, outputs: []int32{out},
		optType: optReshape, opts: func(b *builder) uint32 {
			v := b.int32s(shape)
			b.StartObject(1)
			b.offsetSlot(reshapeShape, v)
			return uint32(b.EndObject())
		}})
}

// conv appends a CONV_2D or DEPTHWISE_CONV_2D (after a PAD when goqat's
// padding is neither SAME nor VALID). Weights are written (OC, KH, KW, C)
// for CONV_2D and (1, KH, KW, C*M) for DEPTHWISE_CONV_2D, with per-channel
// scales along quantized_dimension 0 and 3.
func (g *graph) conv(op *lite.Op, in, out int32, act int8) error {
	if op.Groups > 1 {
		return fmt.Errorf("grouped convolution (%d groups) is not exported (TFLite's int8 CONV_2D kernels take one group)", op.Groups)
	}
	ishape := g.tensors[in].shape
	wy := window{n: int(ishape[1]), k: op.Kernel[0], s: op.Strides[0], d: op.Dilation[0], a: op.Pad[0], b: op.Pad[1]}
	wx := window{n: int(ishape[2]), k: op.Kernel[1], s: op.Strides[1], d: op.Dilation[1], a: op.Pad[2], b: op.Pad[3]}
	pad, ok := tflitePadding(wy, wx)
	if !ok {
		// Explicit padding: PAD (with the input's zero point, real 0)
		// and a VALID convolution.
		padded := g.like(in, op.Name+"/pad", []int32{1, ishape[1] + int32(op.Pad[0]+op.Pad[1]),
			ishape[2] + int32(op.Pad[2]+op.Pad[3]), ishape[3]})
		pads := g.int32Const(op.Name+"/paddings", []int32{0, 0, int32(op.Pad[0]), int32(op.Pad[1]),
			int32(op.Pad[2]), int32(op.Pad[3]), 0, 0}, 4, 2)
		g.op(fileOp{code: opPad, version: opVersions[opPad], inputs: []int32{in, pads}, outputs: []int32{padded},
			optType: optPad, opts: emptyOptions})
		in, pad = padded, padValid
	}
	ws := op.WeightShape
	kh, kw := ws[0], ws[1]
	var wshape []int32
	var wdata []byte
	var qdim int32
	oc := ws[len(ws)-1]
	if op.Type == lite.OpConv2D {
		ic := ws[2]
		wshape = []int32{int32(oc), int32(kh), int32(kw), int32(ic)}
		wdata = make([]byte, len(op.Weights))
		for y := range kh {
			for x := range kw {
				for c := range ic {
					for o := range oc {
						wdata[((o*kh+y)*kw+x)*ic+c] = byte(op.Weights[((y*kw+x)*ic+c)*oc+o])
					}
				}
			}
		}
	} else {
		wshape = []int32{1, int32(kh), int32(kw), int32(oc)}
		wdata = int8Bytes(op.Weights)
		qdim = 3
	}
	filter, bias := g.weights(op, in, wshape, wdata, qdim, oc)
	inputs := []int32{in, filter, bias}
	m := int32(max(op.DepthMultiplier, 1))
	dh, dw := int32(max(op.Dilation[0], 1)), int32(max(op.Dilation[1], 1))
	sh, sw := int32(op.Strides[0]), int32(op.Strides[1])
	if op.Type == lite.OpConv2D {
		g.op(fileOp{code: opConv2D, version: opVersions[opConv2D], inputs: inputs, outputs: []int32{out},
			optType: optConv2D, opts: func(b *builder) uint32 {
				b.StartObject(convFields)
				b.PrependInt8Slot(convPadding, pad, 0)
				b.PrependInt32Slot(convStrideW, sw, 0)
				b.PrependInt32Slot(convStrideH, sh, 0)
				b.PrependInt8Slot(convAct, act, 0)
				b.PrependInt32Slot(convDilationW, dw, 1)
				b.PrependInt32Slot(convDilationH, dh, 1)
				return uint32(b.EndObject())
			}})
		return nil
	}
	g.op(fileOp{code: opDepthwiseConv, version: opVersions[opDepthwiseConv], inputs: inputs, outputs: []int32{out},
		optType: optDepthwiseConv, opts: func(b *builder) uint32 {
			b.StartObject(dwFields)
			b.PrependInt8Slot(dwPadding, pad, 0)
			b.PrependInt32Slot(dwStrideW, sw, 0)
			b.PrependInt32Slot(dwStrideH, sh, 0)
			b.PrependInt32Slot(dwMultiplier, m, 0)
			b.PrependInt8Slot(dwAct, act, 0)
			b.PrependInt32Slot(dwDilationW, dw, 1)
			b.PrependInt32Slot(dwDilationH, dh, 1)
			return uint32(b.EndObject())
		}})
	return nil
}

// weights adds a weighted op's filter (int8, scales along qdim, zero
// points 0) and bias (int32, scales s_in*s_w[c]; zeros for an op without
// bias, since TFLite's int8 kernels require one).
func (g *graph) weights(op *lite.Op, in int32, wshape []int32, wdata []byte, qdim int32, oc int) (filter, bias int32) {
	zps := make([]int64, len(op.WeightScales))
	filter = g.constant(op.Name+"/weights", typeInt8, wshape, wdata, op.WeightScales, zps, qdim)
	sIn := g.tensors[in].scales[0]
	bs := make([]float32, oc)
	for c := range bs {
		sw := op.WeightScales[0]
		if len(op.WeightScales) > 1 {
			sw = op.WeightScales[c]
		}
		bs[c] = sIn * sw
	}
	b := op.Bias
	if b == nil {
		b = make([]int32, oc)
	}
	bias = g.constant(op.Name+"/bias", typeInt32, []int32{int32(oc)}, int32Bytes(b), bs, make([]int64, oc), 0)
	return filter, bias
}

// fullyConnected appends a FULLY_CONNECTED (per-tensor weights, written
// (OUT, IN)) or, for per-channel weights, a RESHAPE to (1, 1, 1, IN), a
// 1x1 CONV_2D with per-channel weights (OUT, 1, 1, IN) and a RESHAPE back
// to (1, OUT): the same accumulators and per-channel requantization.
func (g *graph) fullyConnected(op *lite.Op, in, out int32, act int8) error {
	nin, nout := op.WeightShape[0], op.WeightShape[1]
	wdata := make([]byte, len(op.Weights))
	for i := range nin {
		for o := range nout {
			wdata[o*nin+i] = byte(op.Weights[i*nout+o])
		}
	}
	if len(op.WeightScales) == 1 {
		filter, bias := g.weights(op, in, []int32{int32(nout), int32(nin)}, wdata, 0, nout)
		g.op(fileOp{code: opFullyConnected, version: opVersions[opFullyConnected], inputs: []int32{in, filter, bias},
			outputs: []int32{out}, optType: optFullyConnected, opts: func(b *builder) uint32 {
				b.StartObject(fcFields)
				b.PrependInt8Slot(fcAct, act, 0)
				return uint32(b.EndObject())
			}})
		return nil
	}
	x4 := g.like(in, op.Name+"/in4d", []int32{1, 1, 1, int32(nin)})
	g.reshape(op.Name+"/in", in, x4)
	y4 := g.like(out, op.Name+"/out4d", []int32{1, 1, 1, int32(nout)})
	filter, bias := g.weights(op, in, []int32{int32(nout), 1, 1, int32(nin)}, wdata, 0, nout)
	g.op(fileOp{code: opConv2D, version: opVersions[opConv2D], inputs: []int32{x4, filter, bias},
		outputs: []int32{y4}, optType: optConv2D, opts: func(b *builder) uint32 {
			b.StartObject(convFields)
			b.PrependInt8Slot(convPadding, padValid, 0)
			b.PrependInt32Slot(convStrideW, 1, 0)
			b.PrependInt32Slot(convStrideH, 1, 0)
			b.PrependInt8Slot(convAct, act, 0)
			return uint32(b.EndObject())
		}})
	g.reshape(op.Name+"/out", y4, out)
	return nil
}

// concat appends a CONCATENATION. TFLite's int8 kernel copies its inputs,
// all of the output's scale and zero point: an input of other parameters
// is first requantized. An (1, H, W, C) input is requantized by a 1x1
// DEPTHWISE_CONV_2D with unit weights of scale 1 (multiplier s_in/s_out
// in the convolution's fixed-point requantization, as goqat's);
// others by a QUANTIZE (int8 to int8), whose kernel in TFLite's runtime
// rounds with a coarser multiplier (docs/tflite.md, Differences).
func (g *graph) concat(op *lite.Op, ins []int32, out int32) error {
	if op.Activation != "" {
		return fmt.Errorf("a fused %s on Concatenation has no TFLite int8 equivalent", op.Activation)
	}
	o := g.tensors[out]
	for i, x := range ins {
		t := g.tensors[x]
		if t.scales[0] == o.scales[0] && t.zps[0] == o.zps[0] {
			continue
		}
		r := g.like(out, fmt.Sprintf("%s/requant%d", op.Name, i), t.shape)
		ins[i] = r
		if len(t.shape) != 4 {
			g.op(fileOp{code: opQuantize, version: opVersions[opQuantize], inputs: []int32{x}, outputs: []int32{r},
				optType: optQuantize, opts: emptyOptions})
			continue
		}
		c := t.shape[3]
		ones := make([]byte, c)
		scales := make([]float32, c)
		for j := range ones {
			ones[j], scales[j] = 1, 1
		}
		w := g.constant(fmt.Sprintf("%s/requant%d/ones", op.Name, i), typeInt8, []int32{1, 1, 1, c}, ones, scales, make([]int64, c), 3)
		bs := make([]float32, c)
		for j := range bs {
			bs[j] = t.scales[0]
		}
		bias := g.constant(fmt.Sprintf("%s/requant%d/bias", op.Name, i), typeInt32, []int32{c}, make([]byte, 4*c), bs, make([]int64, c), 0)
		g.op(fileOp{code: opDepthwiseConv, version: opVersions[opDepthwiseConv], inputs: []int32{x, w, bias}, outputs: []int32{r},
			optType: optDepthwiseConv, opts: func(b *builder) uint32 {
				b.StartObject(dwFields)
				b.PrependInt8Slot(dwPadding, padValid, 0)
				b.PrependInt32Slot(dwStrideW, 1, 0)
				b.PrependInt32Slot(dwStrideH, 1, 0)
				b.PrependInt32Slot(dwMultiplier, 1, 0)
				return uint32(b.EndObject())
			}})
	}
	axis := int32(len(o.shape) - 1 - op.AxisFromEnd)
	g.op(fileOp{code: opConcatenation, version: opVersions[opConcatenation], inputs: ins, outputs: []int32{out},
		optType: optConcatenation, opts: func(b *builder) uint32 {
			b.StartObject(2)
			b.PrependInt32Slot(concatAxis, axis, 0)
			return uint32(b.EndObject())
		}})
	return nil
}

// slice appends a STRIDED_SLICE selecting Begin, Begin+Step, ... below End
// along one axis.
func (g *graph) slice(op *lite.Op, in, out int32) error {
	shape := g.tensors[in].shape
	r := len(shape)
	ax := r - 1 - op.AxisFromEnd
	begin, end, strides := make([]int32, r), make([]int32, r), make([]int32, r)
	for i := range r {
		end[i], strides[i] = shape[i], 1
	}
	begin[ax], end[ax], strides[ax] = int32(op.Begin), int32(op.End), int32(max(op.Step, 1))
	bt := g.int32Const(op.Name+"/begin", begin)
	et := g.int32Const(op.Name+"/end", end)
	st := g.int32Const(op.Name+"/strides", strides)
	g.op(fileOp{code: opStridedSlice, version: opVersions[opStridedSlice], inputs: []int32{in, bt, et, st},
		outputs: []int32{out}, optType: optStridedSlice, opts: emptyOptions})
	return nil
}
