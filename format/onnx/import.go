package onnx

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// SupportedOps lists the ONNX op types Import reads.
var SupportedOps = []string{"Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Dropout",
	"Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Pad", "Relu", "Reshape", "Sigmoid",
	"Softmax", "Tanh", "Transpose"}

// Limits on imported input shapes.
const (
	maxInputDim  = 1 << 16
	maxInputSize = 1 << 24
)

// layout says how an ONNX value relates to the goqat tensor that holds it.
type layout int

const (
	// same: the ONNX tensor is the goqat tensor, batch included.
	same layout = iota
	// nchw: ONNX (N, C, H, W), goqat (N, H, W, C).
	nchw
	// chwFlat: ONNX (N, C*H*W) in (C, H, W) order, goqat (N, H*W*C) in
	// (H, W, C) order: only a Gemm or MatMul may read it (its weight rows
	// are permuted).
	chwFlat
	// nc11: ONNX (N, C, 1, 1), goqat (N, C).
	nc11
)

// value is an ONNX value computed by the goqat graph under construction.
type value struct {
	node *nn.Node
	lay  layout
	chw  [3]int // chwFlat: C, H, W
}

// shape returns the ONNX shape of v, batch left out.
func (v *value) shape() tensor.Shape {
	s := v.node.Shape()
	switch v.lay {
	case nchw:
		return tensor.Shape{s[2], s[0], s[1]}
	case chwFlat:
		return tensor.Shape{v.chw[0] * v.chw[1] * v.chw[2]}
	case nc11:
		return tensor.Shape{s[0], 1, 1}
	}
	return s
}

// importer holds the state of one Import.
type importer struct {
	opset     int64
	consts    map[string]*onnxpb.TensorProto
	vals      map[string]*value
	consumers map[string][]*onnxpb.NodeProto
	skip      map[*onnxpb.NodeProto]bool
	names     map[string]bool
	setters   []func() error
}

// ImportFile reads an ONNX file (ReadFile with default limits) and
// imports it.
func ImportFile(path string) (*nn.Model, error) {
	mp, err := ReadFile(path, Limits{})
	if err != nil {
		return nil, err
	}
	m, err := Import(mp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Import builds a goqat Functional model from a float ONNX model, with its
// weights: Conv (group 1, or depthwise with group = channels),
// BatchNormalization, Relu, Clip (as ReLU or ReLU6), Sigmoid, Tanh, Add,
// Concat, MaxPool, AveragePool, GlobalAveragePool, Gemm, MatMul (a
// following Add of a constant becomes its bias), Flatten, Reshape,
// Softmax, Pad (zeros), Transpose (between NCHW and NHWC), Identity,
// Dropout and Constant. NCHW tensors become goqat's NHWC: an NCHW image
// input (N, C, H, W) becomes a goqat input (H, W, C), and an input read only
// through a Transpose to NCHW (goqat's own export) stays NHWC. Weights are
// reordered (Conv (OC, C, KH, KW) -> (KH, KW, C, OC); a Gemm after a
// Flatten of an NCHW image gets its rows permuted into goqat's (H, W, C)
// feature order). The model is ready for quantize.Model, Fit and Save. An
// unsupported op or attribute is a one-line error naming the node and its
// op type.
func Import(mp *onnxpb.ModelProto) (*nn.Model, error) {
	if mp == nil || mp.GetGraph() == nil {
		return nil, errors.New("onnx: model has no graph")
	}
	im := &importer{opset: 13, consts: map[string]*onnxpb.TensorProto{}, vals: map[string]*value{},
		consumers: map[string][]*onnxpb.NodeProto{}, skip: map[*onnxpb.NodeProto]bool{}, names: map[string]bool{}}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			im.opset = o.GetVersion()
		}
	}
	g := mp.GetGraph()
	for _, t := range g.GetInitializer() {
		if _, err := checkTensor(t); err != nil {
			return nil, fmt.Errorf("onnx: initializer %q: %w", t.GetName(), err)
		}
		im.consts[t.GetName()] = t
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			im.consumers[in] = append(im.consumers[in], n)
		}
	}
	var inputs []*nn.Node
	for _, vi := range g.GetInput() {
		if _, isConst := im.consts[vi.GetName()]; isConst {
			continue
		}
		x, err := im.input(vi)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, x)
	}
	if len(inputs) == 0 {
		return nil, errors.New("onnx: the graph has no inputs")
	}
	for _, n := range g.GetNode() {
		if im.skip[n] {
			continue
		}
		if err := im.node(n); err != nil {
			return nil, fmt.Errorf("onnx: node %q (%s): %w", n.GetName(), n.GetOpType(), err)
		}
	}
	var outputs []*nn.Node
	for _, vi := range g.GetOutput() {
		v, ok := im.vals[vi.GetName()]
		if !ok {
			return nil, fmt.Errorf("onnx: graph output %q is not computed from the inputs", vi.GetName())
		}
		if v.lay == chwFlat {
			return nil, fmt.Errorf("onnx: graph output %q is a flattened NCHW tensor, which goqat (NHWC) cannot reproduce", vi.GetName())
		}
		outputs = append(outputs, v.node)
	}
	m, err := nn.NewModel(inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	for _, set := range im.setters {
		if err := set(); err != nil {
			return nil, fmt.Errorf("onnx: %w", err)
		}
	}
	name := g.GetName()
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == "goqat_model" && p.GetValue() != "" {
			name = p.GetValue()
		}
	}
	if name != "" {
		m.SetName(name)
	}
	return m, nil
}

// input makes the goqat input of a graph input.
func (im *importer) input(vi *onnxpb.ValueInfoProto) (*nn.Node, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return nil, fmt.Errorf("onnx: input %q is not a tensor", vi.GetName())
	}
	if onnxpb.TensorProto_DataType(tt.GetElemType()) != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("onnx: input %q is %s; Import reads float models (export integer models, do not import them)",
			vi.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	dimsP := tt.GetShape().GetDim()
	if len(dimsP) < 2 {
		return nil, fmt.Errorf("onnx: input %q has rank %d, want a batch dimension and at least one more", vi.GetName(), len(dimsP))
	}
	var s tensor.Shape
	for _, d := range dimsP[1:] {
		v := d.GetDimValue()
		if v <= 0 || v > maxInputDim {
			return nil, fmt.Errorf("onnx: input %q needs fixed dimensions in 1..%d after the batch, got %v", vi.GetName(), maxInputDim, dimsP)
		}
		s = append(s, int(v))
	}
	if s.Size() > maxInputSize {
		return nil, fmt.Errorf("onnx: input %q is too large (%v)", vi.GetName(), s)
	}
	lay := same
	if len(s) == 3 {
		lay = nchw
		if cs := im.consumers[vi.GetName()]; len(cs) > 0 {
			allT := true
			for _, c := range cs {
				if c.GetOpType() != "Transpose" || !equalInts(ints(c, "perm"), toNCHW) {
					allT = false
				}
			}
			if allT {
				lay = same
			}
		}
		if lay == nchw {
			s = tensor.Shape{s[1], s[2], s[0]}
		}
	}
	x := nn.InputNamed(im.layerName(vi.GetName()), s...)
	if x.Err() != nil {
		return nil, fmt.Errorf("onnx: input %q: %w", vi.GetName(), x.Err())
	}
	im.vals[vi.GetName()] = &value{node: x, lay: lay}
	return x, nil
}

// layerName turns an ONNX name into an unused goqat name, or "" (the
// model then names the layer).
func (im *importer) layerName(s string) string {
	s = strings.TrimPrefix(s, "node:")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := b.String()
	if n == "" || im.names[n] {
		return ""
	}
	im.names[n] = true
	return n
}

// call applies a new layer, named after the node, to values and records
// the layer's output under the node's first output.
func (im *importer) call(n *onnxpb.NodeProto, l nn.Layer, lay layout, in ...*nn.Node) (*value, error) {
	name := n.GetName()
	if name == "" {
		name = n.GetOutput()[0]
	}
	l.SetName(im.layerName(name))
	y := nn.Call(l, in...)
	if y.Err() != nil {
		return nil, y.Err()
	}
	v := &value{node: y, lay: lay}
	im.vals[n.GetOutput()[0]] = v
	return v, nil
}

// in returns the computed (non-constant) input i of a node.
func (im *importer) in(n *onnxpb.NodeProto, i int) (*value, error) {
	if i >= len(n.GetInput()) {
		return nil, fmt.Errorf("missing input %d", i)
	}
	v, ok := im.vals[n.GetInput()[i]]
	if !ok {
		if _, c := im.consts[n.GetInput()[i]]; c {
			return nil, fmt.Errorf("input %q is a constant; goqat needs a computed tensor there", n.GetInput()[i])
		}
		return nil, fmt.Errorf("input %q is not computed before the node", n.GetInput()[i])
	}
	return v, nil
}

// constant returns constant input i of a node, nil if absent (empty name).
func (im *importer) constant(n *onnxpb.NodeProto, i int) (*onnxpb.TensorProto, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		return nil, nil
	}
	t, ok := im.consts[n.GetInput()[i]]
	if !ok {
		return nil, fmt.Errorf("input %d (%q) must be a constant (an initializer or a Constant node)", i, n.GetInput()[i])
	}
	return t, nil
}

// floats returns constant input i as float32 values of an expected size
// (-1: any), or an error if it is absent.
func (im *importer) floats(n *onnxpb.NodeProto, i, size int) ([]float32, []int, error) {
	t, err := im.constant(n, i)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		return nil, nil, fmt.Errorf("missing input %d", i)
	}
	v, err := floatData(t)
	if err != nil {
		return nil, nil, fmt.Errorf("input %q: %w", t.GetName(), err)
	}
	if size >= 0 && len(v) != size {
		return nil, nil, fmt.Errorf("input %q has %d values, want %d", t.GetName(), len(v), size)
	}
	return v, dims(t), nil
}

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func intAttr(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func floatAttr(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

func ints(n *onnxpb.NodeProto, name string) []int64 {
	if a := attr(n, name); a != nil {
		return a.GetInts()
	}
	return nil
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// node imports one node.
func (im *importer) node(n *onnxpb.NodeProto) error {
	if len(n.GetOutput()) == 0 {
		return errors.New("node has no outputs")
	}
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("op domain %q is not supported", d)
	}
	out := n.GetOutput()[0]
	switch n.GetOpType() {
	case "Constant":
		a := attr(n, "value")
		if a == nil || a.GetT() == nil {
			return errors.New("only Constant with a tensor 'value' is supported")
		}
		if _, err := checkTensor(a.GetT()); err != nil {
			return err
		}
		im.consts[out] = a.GetT()
		return nil
	case "Identity", "Dropout":
		if _, isConst := im.consts[n.GetInput()[0]]; isConst {
			im.consts[out] = im.consts[n.GetInput()[0]]
			return nil
		}
		x, err := im.in(n, 0)
		if err != nil {
			return err
		}
		im.vals[out] = x
		return nil
	case "Transpose":
		return im.transpose(n)
	case "Conv":
		return im.conv(n)
	case "BatchNormalization":
		return im.batchNorm(n)
	case "Relu", "Sigmoid", "Tanh", "Clip", "Softmax":
		return im.activation(n)
	case "Add":
		return im.add(n)
	case "Concat":
		return im.concat(n)
	case "MaxPool", "AveragePool":
		return im.pool(n)
	case "GlobalAveragePool":
		x, err := im.in(n, 0)
		if err != nil {
			return err
		}
		if x.lay != nchw {
			return errors.New("input is not an NCHW image")
		}
		_, err = im.call(n, nn.NewGlobalAveragePooling2D(), nc11, x.node)
		return err
	case "Flatten":
		if a := intAttr(n, "axis", 1); a != 1 {
			return fmt.Errorf("axis %d: only axis 1 (keep the batch) is supported", a)
		}
		return im.flatten(n)
	case "Reshape":
		return im.reshape(n)
	case "Gemm", "MatMul":
		return im.dense(n)
	case "Pad":
		return im.pad(n)
	}
	return fmt.Errorf("op type %s is not supported (supported: %s)", n.GetOpType(), strings.Join(SupportedOps, ", "))
}

func (im *importer) transpose(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	perm := ints(n, "perm")
	r := len(x.node.Shape())
	switch {
	case x.lay == same && r == 3 && equalInts(perm, toNCHW):
		im.vals[n.GetOutput()[0]] = &value{node: x.node, lay: nchw}
	case x.lay == nchw && equalInts(perm, toNHWC):
		im.vals[n.GetOutput()[0]] = &value{node: x.node, lay: same}
	default:
		return fmt.Errorf("perm %v: only NHWC <-> NCHW transposes of images are supported", perm)
	}
	return nil
}

// padding resolves a window's ONNX padding on an (H, W) image into a goqat
// padding mode, or explicit pads (top, bottom, left, right) that need a
// ZeroPadding2D.
func padding(n *onnxpb.NodeProto, h, w int, k, s [2]int) (mode string, explicit [4]int, err error) {
	var p [4]int // top, bottom, left, right
	switch ap := string(attrString(n, "auto_pad")); ap {
	case "", "NOTSET":
		pads := ints(n, "pads")
		if len(pads) != 0 && len(pads) != 4 {
			return "", p, fmt.Errorf("pads %v, want 4 values", pads)
		}
		if len(pads) == 4 {
			p = [4]int{int(pads[0]), int(pads[2]), int(pads[1]), int(pads[3])}
		}
	case "VALID":
		return "valid", p, nil
	case "SAME_UPPER":
		return "same", p, nil
	case "SAME_LOWER":
		t, b := ops.SamePadding(h, k[0], s[0])
		l, r := ops.SamePadding(w, k[1], s[1])
		p = [4]int{b, t, r, l}
	default:
		return "", p, fmt.Errorf("auto_pad %q is not supported", ap)
	}
	for _, v := range p {
		if v < 0 || v > maxInputDim {
			return "", p, fmt.Errorf("bad padding %v", p)
		}
	}
	if p == [4]int{} {
		return "valid", p, nil
	}
	t, b := ops.SamePadding(h, k[0], s[0])
	l, r := ops.SamePadding(w, k[1], s[1])
	if p == [4]int{t, b, l, r} {
		return "same", p, nil
	}
	return "valid", p, nil
}

func attrString(n *onnxpb.NodeProto, name string) []byte {
	if a := attr(n, name); a != nil {
		return a.GetS()
	}
	return nil
}

// window reads kernel_shape (checked against k if k is set), strides and
// dilations (must be 1).
func window(n *onnxpb.NodeProto, k [2]int) (kk, s [2]int, err error) {
	ks := ints(n, "kernel_shape")
	if len(ks) == 0 && k == [2]int{} {
		return kk, s, errors.New("kernel_shape is required")
	}
	if len(ks) != 0 {
		if len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > maxInputDim || ks[1] > maxInputDim {
			return kk, s, fmt.Errorf("kernel_shape %v: only 2-D windows are supported", ks)
		}
		if k != [2]int{} && (int(ks[0]) != k[0] || int(ks[1]) != k[1]) {
			return kk, s, fmt.Errorf("kernel_shape %v does not match the weights' %v", ks, k)
		}
		k = [2]int{int(ks[0]), int(ks[1])}
	}
	s = [2]int{1, 1}
	if st := ints(n, "strides"); len(st) != 0 {
		if len(st) != 2 || st[0] < 1 || st[1] < 1 || st[0] > maxInputDim || st[1] > maxInputDim {
			return kk, s, fmt.Errorf("strides %v", st)
		}
		s = [2]int{int(st[0]), int(st[1])}
	}
	for _, d := range ints(n, "dilations") {
		if d != 1 {
			return kk, s, fmt.Errorf("dilations %v: only 1 is supported", ints(n, "dilations"))
		}
	}
	return k, s, nil
}

// image returns input 0 as an NCHW image value and its goqat (H, W, C).
func (im *importer) image(n *onnxpb.NodeProto) (*value, tensor.Shape, error) {
	x, err := im.in(n, 0)
	if err != nil {
		return nil, nil, err
	}
	if x.lay != nchw {
		return nil, nil, fmt.Errorf("input %q is not an NCHW image (shape %v)", n.GetInput()[0], x.shape())
	}
	return x, x.node.Shape(), nil
}

// zeroPad inserts a ZeroPadding2D before a node if its padding needs one.
func (im *importer) zeroPad(n *onnxpb.NodeProto, x *nn.Node, p [4]int) (*nn.Node, error) {
	if p == [4]int{} {
		return x, nil
	}
	l := nn.NewZeroPadding2D(p[0], p[1], p[2], p[3])
	if nm := im.layerName(n.GetName() + "_pad"); nm != "" {
		l.SetName(nm)
	}
	y := nn.Call(l, x)
	return y, y.Err()
}

func (im *importer) conv(n *onnxpb.NodeProto) error {
	x, s, err := im.image(n)
	if err != nil {
		return err
	}
	wt, err := im.constant(n, 1)
	if err != nil || wt == nil {
		return fmt.Errorf("weights: %v", err)
	}
	w, err := floatData(wt)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	wd := dims(wt)
	if len(wd) != 4 {
		return fmt.Errorf("weights of shape %v: only 2-D convolutions are supported", wd)
	}
	oc, cg, kh, kw := wd[0], wd[1], wd[2], wd[3]
	c := s[2]
	k, st, err := window(n, [2]int{kh, kw})
	if err != nil {
		return err
	}
	group := int(intAttr(n, "group", 1))
	depthwise := group == c && cg == 1 && oc == c && c > 1
	if !(group == 1 && cg == c) && !depthwise {
		return fmt.Errorf("group %d with weights %v on %d channels: only group 1 and depthwise (group = channels, one filter each) are supported", group, wd, c)
	}
	var bias []float32
	if bt, err := im.constant(n, 2); err != nil {
		return err
	} else if bt != nil {
		if bias, err = floatData(bt); err != nil || len(bias) != oc {
			return fmt.Errorf("bias: %d values for %d channels (%v)", len(bias), oc, err)
		}
	}
	mode, p, err := padding(n, s[0], s[1], k, st)
	if err != nil {
		return err
	}
	xn := x.node
	if mode == "valid" {
		if xn, err = im.zeroPad(n, xn, p); err != nil {
			return err
		}
	}
	if depthwise {
		l := nn.NewDepthwiseConv2D(kh, kw)
		l.Strides, l.Padding, l.UseBias = st, mode, bias != nil
		if _, err := im.call(n, l, nchw, xn); err != nil {
			return err
		}
		im.setters = append(im.setters, func() error {
			// (C, 1, KH, KW) -> (KH, KW, C, 1)
			dst := l.DepthwiseKernel.Value.Data
			for ch := 0; ch < c; ch++ {
				for y := 0; y < kh; y++ {
					for xx := 0; xx < kw; xx++ {
						dst[(y*kw+xx)*c+ch] = w[(ch*kh+y)*kw+xx]
					}
				}
			}
			if bias != nil {
				copy(l.Bias.Value.Data, bias)
			}
			return nil
		})
		return nil
	}
	l := nn.NewConv2D(oc, kh, kw)
	l.Strides, l.Padding, l.UseBias = st, mode, bias != nil
	if _, err := im.call(n, l, nchw, xn); err != nil {
		return err
	}
	im.setters = append(im.setters, func() error {
		// (OC, C, KH, KW) -> (KH, KW, C, OC)
		dst := l.Kernel.Value.Data
		for o := 0; o < oc; o++ {
			for i := 0; i < c; i++ {
				for y := 0; y < kh; y++ {
					for xx := 0; xx < kw; xx++ {
						dst[((y*kw+xx)*c+i)*oc+o] = w[((o*c+i)*kh+y)*kw+xx]
					}
				}
			}
		}
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
		return nil
	})
	return nil
}

func (im *importer) batchNorm(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if intAttr(n, "training_mode", 0) != 0 {
		return errors.New("training_mode 1 is not supported")
	}
	s := x.node.Shape()
	if !(x.lay == nchw || x.lay == nc11 || (x.lay == same && len(s) == 1)) {
		return fmt.Errorf("input of shape %v: only NCHW images and (N, C) inputs are supported", x.shape())
	}
	c := s[len(s)-1]
	var p [4][]float32
	for i := range p {
		if p[i], _, err = im.floats(n, i+1, c); err != nil {
			return err
		}
	}
	l := nn.NewBatchNormalization()
	l.Epsilon = float64(floatAttr(n, "epsilon", 1e-5))
	l.Momentum = float64(floatAttr(n, "momentum", 0.9))
	if _, err := im.call(n, l, x.lay, x.node); err != nil {
		return err
	}
	im.setters = append(im.setters, func() error {
		copy(l.Gamma.Value.Data, p[0])
		copy(l.Beta.Value.Data, p[1])
		copy(l.MovingMean.Value.Data, p[2])
		copy(l.MovingVariance.Value.Data, p[3])
		return nil
	})
	return nil
}

// scalar returns the single value of an optional constant input, or def.
func (im *importer) scalar(n *onnxpb.NodeProto, i int, def float32) (float32, error) {
	t, err := im.constant(n, i)
	if err != nil || t == nil {
		return def, err
	}
	v, err := floatData(t)
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("input %d must be one float (%v)", i, err)
	}
	return v[0], nil
}

func (im *importer) activation(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay == chwFlat {
		return errors.New("input is a flattened NCHW tensor; only Gemm or MatMul may read it")
	}
	var l nn.Layer
	switch n.GetOpType() {
	case "Relu":
		l = nn.NewReLU()
	case "Sigmoid", "Tanh":
		l, _ = nn.NewActivation(strings.ToLower(n.GetOpType()))
	case "Clip":
		lo, hi := floatAttr(n, "min", float32(math.Inf(-1))), floatAttr(n, "max", float32(math.Inf(1)))
		if im.opset >= 11 {
			if lo, err = im.scalar(n, 1, float32(math.Inf(-1))); err != nil {
				return err
			}
			if hi, err = im.scalar(n, 2, float32(math.Inf(1))); err != nil {
				return err
			}
		}
		switch {
		case lo == 0 && hi == 6:
			l = nn.NewReLU6()
		case lo == 0 && math.IsInf(float64(hi), 1):
			l = nn.NewReLU()
		default:
			return fmt.Errorf("Clip(%v, %v): only Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU) are supported", lo, hi)
		}
	case "Softmax":
		def := int64(-1)
		if im.opset < 13 {
			def = 1
		}
		a := intAttr(n, "axis", def)
		r := int64(len(x.shape()) + 1)
		if a < 0 {
			a += r
		}
		ok := false
		switch x.lay {
		case same:
			ok = a == r-1 || (im.opset < 13 && a == 1 && r == 2)
		case nchw:
			ok = a == 1 && (im.opset >= 13 || x.node.Shape()[0]*x.node.Shape()[1] == 1)
		case nc11:
			ok = a == 1
		}
		if !ok {
			return fmt.Errorf("softmax over axis %d of shape %v: only the channel/last axis is supported", a, x.shape())
		}
		l, _ = nn.NewActivation("softmax")
	}
	_, err = im.call(n, l, x.lay, x.node)
	return err
}

func (im *importer) add(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(n.GetInput()))
	}
	a, err := im.in(n, 0)
	if err != nil {
		return fmt.Errorf("%w (adding a constant is supported only as the bias right after a MatMul)", err)
	}
	b, err := im.in(n, 1)
	if err != nil {
		return fmt.Errorf("%w (adding a constant is supported only as the bias right after a MatMul)", err)
	}
	if a.lay != b.lay || a.lay == chwFlat || !a.node.Shape().Equal(b.node.Shape()) {
		return fmt.Errorf("inputs of shapes %v and %v: only inputs of the same shape are supported (no broadcasting)", a.shape(), b.shape())
	}
	_, err = im.call(n, nn.NewAdd(), a.lay, a.node, b.node)
	return err
}

func (im *importer) concat(n *onnxpb.NodeProto) error {
	var xs []*nn.Node
	var lay layout
	for i := range n.GetInput() {
		x, err := im.in(n, i)
		if err != nil {
			return err
		}
		if i == 0 {
			lay = x.lay
		} else if x.lay != lay {
			return errors.New("inputs of different layouts")
		}
		xs = append(xs, x.node)
	}
	if lay == chwFlat {
		return errors.New("input is a flattened NCHW tensor; only Gemm or MatMul may read it")
	}
	if len(xs) < 2 {
		return fmt.Errorf("%d inputs, want at least 2", len(xs))
	}
	r := int64(len(im.vals[n.GetInput()[0]].shape()) + 1)
	if attr(n, "axis") == nil {
		return errors.New("axis is required")
	}
	a := intAttr(n, "axis", 0)
	if a < 0 {
		a += r
	}
	if a <= 0 || a >= r {
		return fmt.Errorf("axis %d out of range for rank %d (the batch axis cannot be concatenated)", intAttr(n, "axis", 0), r)
	}
	axis := int(a) // Keras axis, batch = 0
	switch lay {
	case nchw:
		axis = []int{0, 3, 1, 2}[a]
	case nc11:
		if a != 1 {
			return fmt.Errorf("axis %d of (N, C, 1, 1) inputs: only the channels are supported", a)
		}
	}
	l := nn.NewConcatenate()
	l.Axis = axis
	_, err := im.call(n, l, lay, xs...)
	return err
}

func (im *importer) pool(n *onnxpb.NodeProto) error {
	x, s, err := im.image(n)
	if err != nil {
		return err
	}
	k, st, err := window(n, [2]int{})
	if err != nil {
		return err
	}
	if intAttr(n, "storage_order", 0) != 0 {
		return errors.New("storage_order 1 is not supported")
	}
	mode, p, err := padding(n, s[0], s[1], k, st)
	if err != nil {
		return err
	}
	if mode == "valid" && p != [4]int{} {
		return fmt.Errorf("explicit pads %v that are neither none nor 'same' are not supported for pooling", ints(n, "pads"))
	}
	if intAttr(n, "ceil_mode", 0) != 0 {
		// Same result as floor only if every window fits exactly.
		pt, pb, pl, pr := 0, 0, 0, 0
		if mode == "same" {
			pt, pb = ops.SamePadding(s[0], k[0], st[0])
			pl, pr = ops.SamePadding(s[1], k[1], st[1])
		}
		if (s[0]+pt+pb-k[0])%st[0] != 0 || (s[1]+pl+pr-k[1])%st[1] != 0 {
			return errors.New("ceil_mode 1 with a partial last window is not supported")
		}
	}
	if s[0] < k[0] || s[1] < k[1] {
		if mode == "valid" {
			return fmt.Errorf("window %v larger than the image %v", k, s)
		}
	}
	var l nn.Layer
	if n.GetOpType() == "MaxPool" {
		if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
			return errors.New("the Indices output is not supported")
		}
		mp := nn.NewMaxPooling2D(k[0], k[1])
		mp.Strides, mp.Padding = st, mode
		l = mp
	} else {
		if mode == "same" && p != [4]int{} && intAttr(n, "count_include_pad", 0) != 0 {
			return errors.New("count_include_pad 1 with padding is not supported (goqat averages the cells inside the image)")
		}
		ap := nn.NewAveragePooling2D(k[0], k[1])
		ap.Strides, ap.Padding = st, mode
		l = ap
	}
	_, err = im.call(n, l, nchw, x.node)
	return err
}

func (im *importer) flatten(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	s := x.node.Shape()
	switch x.lay {
	case nc11:
		im.vals[n.GetOutput()[0]] = &value{node: x.node, lay: same}
		return nil
	case chwFlat:
		im.vals[n.GetOutput()[0]] = x
		return nil
	case same:
		if len(s) == 1 {
			im.vals[n.GetOutput()[0]] = x
			return nil
		}
		_, err = im.call(n, nn.NewFlatten(), same, x.node)
		return err
	}
	// NCHW image.
	v, err := im.call(n, nn.NewFlatten(), same, x.node)
	if err != nil {
		return err
	}
	if s[0]*s[1] > 1 {
		v.lay, v.chw = chwFlat, [3]int{s[2], s[0], s[1]}
	}
	return nil
}

func (im *importer) reshape(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	st, err := im.constant(n, 1)
	if err != nil || st == nil {
		return fmt.Errorf("shape: %v", err)
	}
	want, err := intData(st)
	if err != nil {
		return fmt.Errorf("shape: %w", err)
	}
	in := x.shape()
	size := in.Size()
	// Resolve the target's per-sample dimensions: the first entry is the
	// batch (0, -1 or any value: the batch is dynamic).
	if len(want) < 2 {
		return fmt.Errorf("target shape %v: the batch dimension must stay first", want)
	}
	allowZero := intAttr(n, "allowzero", 0) != 0
	var t tensor.Shape
	infer := -1
	for i, d := range want[1:] {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return fmt.Errorf("target shape %v copies a dimension the input %v lacks", want, in)
			}
			t = append(t, in[i])
		case d == -1 && infer < 0:
			infer = i
			t = append(t, 1)
		case d >= 1 && d <= maxInputSize:
			t = append(t, int(d))
		default:
			return fmt.Errorf("target shape %v is not supported", want)
		}
	}
	if infer >= 0 {
		if t.Size() == 0 || size%t.Size() != 0 {
			return fmt.Errorf("cannot reshape %v to %v", in, want)
		}
		t[infer] = size / t.Size()
	}
	if t.Size() != size {
		return fmt.Errorf("cannot reshape %v to %v (batch left out)", in, t)
	}
	if len(t) == 1 {
		return im.flatten(n) // the same thing
	}
	switch x.lay {
	case same:
		if t.Equal(x.node.Shape()) {
			im.vals[n.GetOutput()[0]] = x
			return nil
		}
		_, err = im.call(n, nn.NewReshape(t...), same, x.node)
		return err
	case nc11:
		if t.Equal(tensor.Shape{in[0], 1, 1}) {
			im.vals[n.GetOutput()[0]] = x
			return nil
		}
	}
	return fmt.Errorf("reshape of %v to %v: only flattening an NCHW tensor, and any reshape of an NHWC or flat tensor, are supported", in, t)
}

func (im *importer) dense(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay == nc11 {
		x = &value{node: x.node, lay: same}
	}
	s := x.node.Shape()
	if len(s) != 1 || x.lay == nchw {
		return fmt.Errorf("input of shape %v: flatten it to (N, features) first", x.shape())
	}
	k := s[0]
	b, bd, err := im.floats(n, 1, -1)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if len(bd) != 2 {
		return fmt.Errorf("weights of shape %v, want 2-D", bd)
	}
	isGemm := n.GetOpType() == "Gemm"
	transB := isGemm && intAttr(n, "transB", 0) != 0
	if isGemm && intAttr(n, "transA", 0) != 0 {
		return errors.New("transA 1 is not supported")
	}
	units := bd[1]
	if transB {
		units = bd[0]
	}
	if bd[0]*bd[1] != k*units {
		return fmt.Errorf("weights of shape %v do not fit %d input features", bd, k)
	}
	kernel := b
	if transB {
		kernel = transpose2(b, units, k)
	}
	var bias []float32
	alias := ""
	if isGemm {
		alpha, beta := floatAttr(n, "alpha", 1), floatAttr(n, "beta", 1)
		if alpha != 1 {
			for i := range kernel {
				kernel[i] *= alpha
			}
		}
		c, err := im.constant(n, 2)
		if err != nil {
			return err
		}
		if c != nil {
			if bias, err = broadcastBias(c, units); err != nil {
				return err
			}
			for i := range bias {
				bias[i] *= beta
			}
		}
	} else if cs := im.consumers[n.GetOutput()[0]]; len(cs) == 1 && cs[0].GetOpType() == "Add" && len(cs[0].GetInput()) == 2 {
		// MatMul + Add(constant) is a Dense with a bias.
		add := cs[0]
		for i, name := range add.GetInput() {
			if name == n.GetOutput()[0] {
				if ct, ok := im.consts[add.GetInput()[1-i]]; ok {
					if bias, err = broadcastBias(ct, units); err != nil {
						return fmt.Errorf("bias %q: %w", ct.GetName(), err)
					}
					im.skip[add] = true
					alias = add.GetOutput()[0]
				}
				break
			}
		}
	}
	if x.lay == chwFlat {
		// Rows in (C, H, W) order -> goqat's (H, W, C) order.
		c, h, w := x.chw[0], x.chw[1], x.chw[2]
		perm := make([]float32, len(kernel))
		for ci := 0; ci < c; ci++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					copy(perm[((y*w+xx)*c+ci)*units:][:units], kernel[((ci*h+y)*w+xx)*units:][:units])
				}
			}
		}
		kernel = perm
	}
	l := nn.NewDense(units)
	l.UseBias = bias != nil
	v, err := im.call(n, l, same, x.node)
	if err != nil {
		return err
	}
	if alias != "" {
		im.vals[alias] = v
	}
	im.setters = append(im.setters, func() error {
		copy(l.Kernel.Value.Data, kernel)
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
		return nil
	})
	return nil
}

// broadcastBias returns a bias of shape (units), (1, units) or a scalar
// as units values.
func broadcastBias(t *onnxpb.TensorProto, units int) ([]float32, error) {
	v, err := floatData(t)
	if err != nil {
		return nil, err
	}
	switch {
	case len(v) == units && (len(t.GetDims()) == 1 || (len(t.GetDims()) == 2 && t.GetDims()[0] == 1)):
		return v, nil
	case len(v) == 1:
		out := make([]float32, units)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("bias of shape %v for %d units", t.GetDims(), units)
}

func (im *importer) pad(n *onnxpb.NodeProto) error {
	x, _, err := im.image(n)
	if err != nil {
		return err
	}
	if m := string(attrString(n, "mode")); m != "" && m != "constant" {
		return fmt.Errorf("mode %q: only constant (zero) padding is supported", m)
	}
	var pads []int64
	value := floatAttr(n, "value", 0)
	if im.opset >= 11 {
		pt, err := im.constant(n, 1)
		if err != nil || pt == nil {
			return fmt.Errorf("pads: %v", err)
		}
		if pads, err = intData(pt); err != nil {
			return fmt.Errorf("pads: %w", err)
		}
		if value, err = im.scalar(n, 2, 0); err != nil {
			return err
		}
	} else {
		pads = ints(n, "pads")
	}
	if value != 0 {
		return fmt.Errorf("constant value %v: only zero padding is supported", value)
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return fmt.Errorf("pads %v: only padding of the height and width of an NCHW image is supported", pads)
	}
	for _, p := range pads {
		if p < 0 || p > maxInputDim {
			return fmt.Errorf("pads %v: only non-negative padding is supported", pads)
		}
	}
	_, err = im.call(n, nn.NewZeroPadding2D(int(pads[2]), int(pads[6]), int(pads[3]), int(pads[7])), nchw, x.node)
	return err
}
