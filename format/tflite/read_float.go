package tflite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// ErrFloatModel is returned (wrapped) by Read for a .tflite model of
// FLOAT32 operators: ReadFloat imports those.
var ErrFloatModel = errors.New("float .tflite model")

// floatCodes lists the operators ReadFloat reads (versions 1 and 2, the
// float kernels' versions): their nn layers.
var floatCodes = map[int32]bool{
	opConv2D: true, opDepthwiseConv: true, opFullyConnected: true, opAdd: true, opMul: true,
	opConcatenation: true, opMaxPool2D: true, opAveragePool2D: true, opMean: true, opReduceMax: true,
	opReshape: true, opPad: true, opSoftmax: true, opLogistic: true, opTanh: true, opHardSwish: true,
	opStridedSlice: true, opRelu: true, opRelu6: true,
}

// ReadFloatFile reads a float .tflite model (ReadFloat) from path.
func ReadFloatFile(path string) (*nn.Model, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	m, err := ReadFloat(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// readBounded reads a regular file of at most MaxFileSize bytes (the
// size checked before and while reading).
func readBounded(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("tflite: %s: not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("tflite: %s: %d bytes, more than the format's %d", path, st.Size(), int64(MaxFileSize))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tflite: %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("tflite: %s: more than the format's %d bytes", path, int64(MaxFileSize))
	}
	return b, nil
}

// ReadFloat verifies a .tflite flatbuffer of FLOAT32 operators (as
// MarshalFloat writes them) and builds the float nn model: CONV_2D,
// DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL (a multiplication or
// addition by a per-channel constant becomes a BatchNormalization),
// CONCATENATION, the pools, MEAN and REDUCE_MAX over H and W, RESHAPE,
// PAD, SOFTMAX, LOGISTIC, TANH, HARD_SWISH, RELU, RELU6 and STRIDED_SLICE
// on one axis. Errors are one line naming the operator.
func ReadFloat(b []byte) (*nn.Model, error) {
	r := &reader{f: newFbuf(b)}
	fr := &floatReader{r: r, nodes: map[int32]*nn.Node{}}
	if err := fr.read(); err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	return fr.m, nil
}

// floatReader builds an nn model from a verified file.
type floatReader struct {
	r       *reader
	nodes   map[int32]*nn.Node
	setters []func()
	m       *nn.Model
}

// read verifies the file and builds the model.
func (fr *floatReader) read() error {
	r := fr.r
	root, err := r.f.root()
	if err != nil {
		return err
	}
	if v, err := root.u32f(modelVersion, 0); err != nil || v != schemaVersion {
		if err != nil {
			return err
		}
		return fmt.Errorf("schema version %d, want %d", v, schemaVersion)
	}
	if err := r.readCodes(root); err != nil {
		return err
	}
	if err := r.readBuffers(root); err != nil {
		return err
	}
	sgs, err := root.tables(modelSubgraphs, "subgraph")
	if err != nil {
		return err
	}
	if sgs.n != 1 {
		return fmt.Errorf("%d subgraphs, goqat reads models of one", sgs.n)
	}
	sg, err := sgs.at(0)
	if err != nil {
		return err
	}
	ts, err := sg.tables(subgraphTensors, "tensor")
	if err != nil {
		return err
	}
	for i := range ts.n {
		t, err := ts.at(i)
		if err != nil {
			return err
		}
		ft, err := r.readTensor(t)
		if err != nil {
			return fmt.Errorf("tensor %d: %w", i, err)
		}
		r.tensors = append(r.tensors, ft)
	}
	ins, err := sg.int32s(subgraphInputs)
	if err != nil {
		return err
	}
	outs, err := sg.int32s(subgraphOutputs)
	if err != nil {
		return err
	}
	var inNodes, outNodes []*nn.Node
	for _, i := range ins {
		ft, err := r.tensorAt(i)
		if err != nil {
			return fmt.Errorf("model input: %w", err)
		}
		s, err := floatShape(ft)
		if err != nil {
			return fmt.Errorf("model input: %w", err)
		}
		n := nn.InputNamed(ft.name, s...)
		if n.Err() != nil {
			return n.Err()
		}
		fr.nodes[i] = n
		inNodes = append(inNodes, n)
	}
	ops, err := sg.tables(subgraphOperators, "operator")
	if err != nil {
		return err
	}
	for i := range ops.n {
		t, err := ops.at(i)
		if err != nil {
			return err
		}
		if err := fr.readOp(t); err != nil {
			return fmt.Errorf("operator %d: %w", i, err)
		}
	}
	for _, i := range outs {
		n, ok := fr.nodes[i]
		if !ok {
			return fmt.Errorf("model output tensor %d is not computed", i)
		}
		outNodes = append(outNodes, n)
	}
	if len(inNodes) == 0 || len(outNodes) == 0 {
		return errors.New("the subgraph has no inputs or no outputs")
	}
	if fr.m, err = nn.NewModel(inNodes, outNodes); err != nil {
		return err
	}
	for _, set := range fr.setters {
		set()
	}
	return nil
}

// floatShape returns a float activation's per-sample shape (batch 1).
func floatShape(ft *fileTensorIn) (tensor.Shape, error) {
	if ft.typ != typeFloat32 || ft.data != nil {
		return nil, fmt.Errorf("tensor %q: want a FLOAT32 activation, got %s%s", ft.name, typeName(ft.typ),
			map[bool]string{true: " constant", false: ""}[ft.data != nil])
	}
	if len(ft.shape) < 2 || ft.shape[0] != 1 {
		return nil, fmt.Errorf("tensor %q: shape %v, want a batch of 1 and at least one more dimension", ft.name, ft.shape)
	}
	s := make(tensor.Shape, len(ft.shape)-1)
	for i, d := range ft.shape[1:] {
		s[i] = int(d)
	}
	return s, nil
}

// floats decodes a constant FLOAT32 tensor, charging the budget.
func (fr *floatReader) floats(ft *fileTensorIn) ([]float32, error) {
	if err := fr.r.f.charge(2 * int64(len(ft.data))); err != nil {
		return nil, err
	}
	v := make([]float32, len(ft.data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(ft.data[4*i:]))
	}
	return v, nil
}

// node returns the nn node of file tensor i.
func (fr *floatReader) node(i int32) (*nn.Node, error) {
	n, ok := fr.nodes[i]
	if !ok {
		if _, err := fr.r.tensorAt(i); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("tensor %d is used before it is computed (or is a constant where an activation is expected)", i)
	}
	return n, nil
}

// call applies layer l named after file tensor out and records its node.
func (fr *floatReader) call(l nn.Layer, out int32, in ...*nn.Node) (*nn.Node, error) {
	ft, err := fr.r.tensorAt(out)
	if err != nil {
		return nil, err
	}
	if _, ok := fr.nodes[out]; ok {
		return nil, fmt.Errorf("tensor %q is written twice", ft.name)
	}
	if ft.name != "" {
		l.SetName(ft.name)
	}
	y := nn.Call(l, in...)
	if y.Err() != nil {
		return nil, y.Err()
	}
	fr.nodes[out] = y
	return y, nil
}

// withAct appends a fused activation's layer to x (the node written
// last for out).
func (fr *floatReader) withAct(act string, out int32, l nn.Layer, in ...*nn.Node) error {
	if act == "" {
		_, err := fr.call(l, out, in...)
		return err
	}
	y := nn.Call(l, in...)
	if y.Err() != nil {
		return y.Err()
	}
	var a nn.Layer = nn.NewReLU()
	if act == "relu6" {
		a = nn.NewReLU6()
	}
	_, err := fr.call(a, out, y)
	return err
}

// readOp reads one float operator and applies its layers.
func (fr *floatReader) readOp(t *ftable) error {
	r := fr.r
	idx, err := t.u32f(operatorOpcodeIndex, 0)
	if err != nil {
		return err
	}
	if int64(idx) >= int64(len(r.codes)) {
		return fmt.Errorf("opcode index %d out of range (%d codes)", idx, len(r.codes))
	}
	o := opIn{code: r.codes[idx].code, version: r.codes[idx].version}
	o.name = opName(o.code)
	if !floatCodes[o.code] {
		return fmt.Errorf("operator %s is not supported in float models", o.name)
	}
	if o.version < 1 || o.version > 2 {
		return fmt.Errorf("float %s version %d is not supported (versions 1 and 2 are)", o.name, o.version)
	}
	if o.ins, err = t.int32s(operatorInputs); err != nil {
		return err
	}
	if o.outs, err = t.int32s(operatorOutputs); err != nil {
		return err
	}
	if len(o.outs) != 1 || len(o.ins) == 0 {
		return fmt.Errorf("%s with %d inputs and %d outputs", o.name, len(o.ins), len(o.outs))
	}
	if o.optType, err = t.u8(operatorBuiltinOptionsType, 0); err != nil {
		return err
	}
	if o.optType != optNone {
		if o.opts, err = t.sub(operatorBuiltinOptions, o.name+" options"); err != nil {
			return err
		}
	}
	if err := fr.convert(&o); err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	return nil
}

// constIn returns the operator's input i as a FLOAT32 or INT32 constant,
// or nil if it is an activation.
func (fr *floatReader) constIn(o *opIn, i int) (*fileTensorIn, error) {
	if i >= len(o.ins) || o.ins[i] < 0 {
		return nil, nil
	}
	ft, err := fr.r.tensorAt(o.ins[i])
	if err != nil || ft.data == nil {
		return nil, err
	}
	return ft, nil
}

// kerasPad maps TFLite's padding to Keras'.
func kerasPad(p uint8) (string, error) {
	switch p {
	case padSame:
		return "same", nil
	case padValid:
		return "valid", nil
	}
	return "", fmt.Errorf("padding %d (want SAME or VALID)", p)
}

// convert applies the layers of one float operator.
func (fr *floatReader) convert(o *opIn) error {
	out := o.outs[0]
	x, err := fr.node(o.ins[0])
	if err != nil {
		return err
	}
	switch o.code {
	case opConv2D, opDepthwiseConv, opFullyConnected:
		return fr.weighted(o, x)
	case opAdd, opMul:
		opt, id := uint8(optAdd), addAct
		if o.code == opMul {
			opt, id = optMul, mulAct
		}
		t, err := o.options(opt)
		if err != nil {
			return err
		}
		act, err := fused(t, id)
		if err != nil {
			return err
		}
		if len(o.ins) != 2 {
			return fmt.Errorf("%d inputs, want 2", len(o.ins))
		}
		c, err := fr.constIn(o, 1)
		if err != nil {
			return err
		}
		if c != nil {
			return fr.affine(o, x, c, act)
		}
		y, err := fr.node(o.ins[1])
		if err != nil {
			return err
		}
		var l nn.Layer = nn.NewAdd()
		if o.code == opMul {
			l = nn.NewMultiply()
		}
		return fr.withAct(act, out, l, x, y)
	case opConcatenation:
		t, err := o.options(optConcatenation)
		if err != nil {
			return err
		}
		act, err := fused(t, concatAct)
		if err != nil {
			return err
		}
		axis, err := optI32(t, concatAxis, 0)
		if err != nil {
			return err
		}
		ins := []*nn.Node{x}
		for _, i := range o.ins[1:] {
			n, err := fr.node(i)
			if err != nil {
				return err
			}
			ins = append(ins, n)
		}
		l := nn.NewConcatenate()
		l.Axis = int(axis)
		return fr.withAct(act, out, l, ins...)
	case opMaxPool2D, opAveragePool2D:
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
		mode, err := kerasPad(pad)
		if err != nil {
			return err
		}
		if o.code == opMaxPool2D {
			l := nn.NewMaxPooling2D(int(fh), int(fw))
			l.Strides, l.Padding = [2]int{int(sh), int(sw)}, mode
			return fr.withAct(act, out, l, x)
		}
		l := nn.NewAveragePooling2D(int(fh), int(fw))
		l.Strides, l.Padding = [2]int{int(sh), int(sw)}, mode
		return fr.withAct(act, out, l, x)
	case opMean, opReduceMax:
		at, err := fr.constIn(o, 1)
		if err != nil || at == nil || at.typ != typeInt32 {
			return fmt.Errorf("axes must be an INT32 constant (%v)", err)
		}
		axes, err := fr.r.int32Data(at)
		if err != nil {
			return err
		}
		if len(axes) != 2 || !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1)) || len(x.Shape()) != 3 {
			return fmt.Errorf("axes %v of a %v input: only axes 1 and 2 of (1, H, W, C) are supported", axes, x.Shape())
		}
		t, err := o.options(optReducer)
		if err != nil {
			return err
		}
		if keep, err := optU8(t, reducerKeep, 0); err != nil || keep != 0 {
			return fmt.Errorf("keep_dims is not supported (%v)", err)
		}
		var l nn.Layer = nn.NewGlobalAveragePooling2D()
		if o.code == opReduceMax {
			l = nn.NewGlobalMaxPooling2D()
		}
		_, err = fr.call(l, out, x)
		return err
	case opReshape:
		ft, err := fr.r.tensorAt(out)
		if err != nil {
			return err
		}
		s := make([]int, 0, len(ft.shape))
		for _, d := range ft.shape[min(1, len(ft.shape)):] {
			s = append(s, int(d))
		}
		if len(ft.shape) < 2 || ft.shape[0] != 1 {
			return fmt.Errorf("output shape %v, want a batch of 1", ft.shape)
		}
		_, err = fr.call(nn.NewReshape(s...), out, x)
		return err
	case opPad:
		pt, err := fr.constIn(o, 1)
		if err != nil || pt == nil || pt.typ != typeInt32 {
			return fmt.Errorf("paddings must be an INT32 constant (%v)", err)
		}
		p, err := fr.r.int32Data(pt)
		if err != nil {
			return err
		}
		if len(x.Shape()) != 3 || len(p) != 8 || p[0] != 0 || p[1] != 0 || p[6] != 0 || p[7] != 0 || min(p[2], p[3], p[4], p[5]) < 0 {
			return fmt.Errorf("paddings %v of a %v input: only the spatial axes of (1, H, W, C) are supported", p, x.Shape())
		}
		_, err = fr.call(nn.NewZeroPadding2D(int(p[2]), int(p[3]), int(p[4]), int(p[5])), out, x)
		return err
	case opSoftmax, opLogistic, opTanh, opHardSwish:
		fn := map[int32]string{opSoftmax: "softmax", opLogistic: "sigmoid", opTanh: "tanh", opHardSwish: "hard_swish"}[o.code]
		if o.code == opSoftmax {
			t, err := o.options(optSoftmax)
			if err != nil {
				return err
			}
			beta := float32(1)
			if t != nil {
				if beta, err = t.f32(softmaxBeta, 0); err != nil {
					return err
				}
			}
			if beta != 1 {
				return fmt.Errorf("beta %v is not supported (1 is)", beta)
			}
		}
		l, err := nn.NewActivation(fn)
		if err != nil {
			return err
		}
		_, err = fr.call(l, out, x)
		return err
	case opRelu:
		_, err := fr.call(nn.NewReLU(), out, x)
		return err
	case opRelu6:
		_, err := fr.call(nn.NewReLU6(), out, x)
		return err
	case opStridedSlice:
		return fr.slice(o, x)
	}
	return errors.New("not supported")
}

// affine makes a MUL or ADD by a constant of the channel count (or one
// value) a BatchNormalization: gamma the factor (or 1), beta the term (or
// 0), moving mean 0 and variance 1 (epsilon 1e-12).
func (fr *floatReader) affine(o *opIn, x *nn.Node, c *fileTensorIn, act string) error {
	if c.typ != typeFloat32 {
		return fmt.Errorf("constant %q is %s, want FLOAT32", c.name, typeName(c.typ))
	}
	v, err := fr.floats(c)
	if err != nil {
		return err
	}
	s := x.Shape()
	ch := s[len(s)-1]
	if len(v) != ch && len(v) != 1 {
		return fmt.Errorf("constant %q of %d values for %d channels (per-channel or scalar constants are supported)", c.name, len(v), ch)
	}
	l := nn.NewBatchNormalization()
	l.Epsilon = 1e-12
	if err := fr.withAct(act, o.outs[0], l, x); err != nil {
		return err
	}
	mul := o.code == opMul
	fr.setters = append(fr.setters, func() {
		for i := range ch {
			k := v[min(i, len(v)-1)]
			g, b := float32(1), float32(0)
			if mul {
				g = k
			} else {
				b = k
			}
			l.Gamma.Value.Data[i], l.Beta.Value.Data[i] = g, b
			l.MovingMean.Value.Data[i], l.MovingVariance.Value.Data[i] = 0, 1
		}
	})
	return nil
}

// weighted applies a Conv2D, DepthwiseConv2D or Dense.
func (fr *floatReader) weighted(o *opIn, x *nn.Node) error {
	wt, err := fr.constIn(o, 1)
	if err != nil || wt == nil || wt.typ != typeFloat32 {
		return fmt.Errorf("weights must be a FLOAT32 constant (%v)", err)
	}
	w, err := fr.floats(wt)
	if err != nil {
		return err
	}
	var bias []float32
	if bt, err := fr.constIn(o, 2); err != nil {
		return err
	} else if bt != nil {
		if bt.typ != typeFloat32 {
			return fmt.Errorf("bias %q is %s, want FLOAT32", bt.name, typeName(bt.typ))
		}
		if bias, err = fr.floats(bt); err != nil {
			return err
		}
	}
	s := x.Shape()
	ws := wt.shape
	out := o.outs[0]
	if o.code == opFullyConnected {
		t, err := o.options(optFullyConnected)
		if err != nil {
			return err
		}
		act, err := fused(t, fcAct)
		if err != nil {
			return err
		}
		if len(ws) != 2 || int(ws[1]) != s.Size() || (bias != nil && len(bias) != int(ws[0])) {
			return fmt.Errorf("weights %v (and %d biases) for a %v input", ws, len(bias), s)
		}
		if len(s) != 1 {
			if x = nn.Call(nn.NewFlatten(), x); x.Err() != nil {
				return x.Err()
			}
		}
		nout, nin := int(ws[0]), int(ws[1])
		l := nn.NewDense(nout)
		l.UseBias = bias != nil
		fr.setters = append(fr.setters, func() {
			for i := range nin {
				for j := range nout {
					l.Kernel.Value.Data[i*nout+j] = w[j*nin+i]
				}
			}
			if bias != nil {
				copy(l.Bias.Value.Data, bias)
			}
		})
		return fr.withAct(act, out, l, x)
	}
	if len(ws) != 4 || len(s) != 3 {
		return fmt.Errorf("weights %v for a %v input, want rank 4 and (1, H, W, C)", ws, s)
	}
	oc, kh, kw, ic := int(ws[0]), int(ws[1]), int(ws[2]), int(ws[3])
	var pad uint8
	var sw, sh, dw, dh int32
	var act string
	var mult int32
	if o.code == opConv2D {
		t, err := o.options(optConv2D)
		if err != nil {
			return err
		}
		var e [6]error
		pad, e[0] = optU8(t, convPadding, padSame)
		sw, e[1] = optI32(t, convStrideW, 1)
		sh, e[2] = optI32(t, convStrideH, 1)
		dw, e[3] = optI32(t, convDilationW, 1)
		dh, e[4] = optI32(t, convDilationH, 1)
		act, e[5] = fused(t, convAct)
		if err := firstErr(e[:]...); err != nil {
			return err
		}
	} else {
		t, err := o.options(optDepthwiseConv)
		if err != nil {
			return err
		}
		var e [7]error
		pad, e[0] = optU8(t, dwPadding, padSame)
		sw, e[1] = optI32(t, dwStrideW, 1)
		sh, e[2] = optI32(t, dwStrideH, 1)
		dw, e[3] = optI32(t, dwDilationW, 1)
		dh, e[4] = optI32(t, dwDilationH, 1)
		act, e[5] = fused(t, dwAct)
		mult, e[6] = optI32(t, dwMultiplier, 1)
		if err := firstErr(e[:]...); err != nil {
			return err
		}
	}
	mode, err := kerasPad(pad)
	if err != nil {
		return err
	}
	if sw < 1 || sh < 1 || dw < 1 || dh < 1 || kh < 1 || kw < 1 {
		return fmt.Errorf("kernel %dx%d, strides %dx%d and dilations %dx%d must be positive", kh, kw, sh, sw, dh, dw)
	}
	st, dil := [2]int{int(sh), int(sw)}, [2]int{int(dh), int(dw)}
	if o.code == opConv2D {
		if ic != s[2] || (bias != nil && len(bias) != oc) {
			return fmt.Errorf("weights %v (and %d biases) for %d input channels (grouped convolutions are not supported)", ws, len(bias), s[2])
		}
		l := nn.NewConv2D(oc, kh, kw)
		l.Strides, l.Padding, l.DilationRate, l.UseBias = st, mode, dil, bias != nil
		fr.setters = append(fr.setters, func() {
			for c := range oc {
				for y := range kh {
					for xx := range kw {
						for i := range ic {
							l.Kernel.Value.Data[((y*kw+xx)*ic+i)*oc+c] = w[((c*kh+y)*kw+xx)*ic+i]
						}
					}
				}
			}
			if bias != nil {
				copy(l.Bias.Value.Data, bias)
			}
		})
		return fr.withAct(act, out, l, x)
	}
	m := int(mult)
	if oc != 1 || m < 1 || ic != s[2]*m || (bias != nil && len(bias) != ic) {
		return fmt.Errorf("weights %v, depth multiplier %d (and %d biases) for %d input channels", ws, m, len(bias), s[2])
	}
	l := nn.NewDepthwiseConv2D(kh, kw)
	l.Strides, l.Padding, l.DilationRate, l.UseBias, l.DepthMultiplier = st, mode, dil, bias != nil, m
	fr.setters = append(fr.setters, func() {
		copy(l.DepthwiseKernel.Value.Data, w) // (1,KH,KW,C*M) is (KH,KW,C,M)
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
	})
	return fr.withAct(act, out, l, x)
}

// slice applies a Slice for a STRIDED_SLICE along one axis.
func (fr *floatReader) slice(o *opIn, x *nn.Node) error {
	var v [3][]int32
	for i := range v {
		ct, err := fr.constIn(o, 1+i)
		if err != nil || ct == nil || ct.typ != typeInt32 {
			return fmt.Errorf("begin, end and strides must be INT32 constants (%v)", err)
		}
		if v[i], err = fr.r.int32Data(ct); err != nil {
			return err
		}
	}
	t, err := o.options(optStridedSlice)
	if err != nil {
		return err
	}
	for i := ssEllipsisMask; i <= ssShrinkMask; i++ {
		if m, err := optI32(t, i, 0); err != nil || m != 0 {
			return fmt.Errorf("ellipsis, new-axis and shrink masks are not supported (%v)", err)
		}
	}
	bm, err1 := optI32(t, ssBeginMask, 0)
	em, err2 := optI32(t, ssEndMask, 0)
	if err := firstErr(err1, err2); err != nil {
		return err
	}
	shape := append(tensor.Shape{1}, x.Shape()...)
	rank := len(shape)
	if len(v[0]) != rank || len(v[1]) != rank || len(v[2]) != rank {
		return fmt.Errorf("begin, end and strides of lengths %d, %d, %d for rank %d", len(v[0]), len(v[1]), len(v[2]), rank)
	}
	ax, b, e, st := -1, 0, 0, 1
	for i := range rank {
		n := shape[i]
		bi, ei, si := int(v[0][i]), int(v[1][i]), int(v[2][i])
		if bm>>i&1 != 0 {
			bi = 0
		}
		if em>>i&1 != 0 {
			ei = n
		}
		if bi < 0 {
			bi += n
		}
		if ei < 0 {
			ei += n
		}
		ei = min(ei, n)
		if si < 1 || bi < 0 || bi >= ei {
			return fmt.Errorf("axis %d: begin %d, end %d, stride %d (positive strides over a non-empty range are supported)", i, bi, ei, si)
		}
		if bi == 0 && ei == n && si == 1 {
			continue
		}
		if ax >= 0 || i == 0 {
			return errors.New("slices along more than one axis or the batch axis are not supported")
		}
		ax, b, e, st = i, bi, ei, si
	}
	if ax < 0 {
		ax, b, e = rank-1, 0, shape[rank-1]
	}
	l := nn.NewSlice(ax, b, e)
	l.Step = st
	_, err = fr.call(l, o.outs[0], x)
	return err
}
