package onnx

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// SupportedOps lists the ONNX op types Import reads, sorted: the op types
// of the dispatch table importers and those folded into constants
// (folders, import_fold.go).
var SupportedOps = supportedOps()

// supportedOps returns the op types of importers and folders, sorted.
func supportedOps() []string {
	ops := slices.Collect(maps.Keys(importers))
	for op := range folders {
		if _, ok := importers[op]; !ok {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	return ops
}

// importers is the dispatch table of Import: the function that imports a
// node of each supported ONNX op type (node has checked that the node has
// an output and the default domain). Each op's function is in its family's
// file, import_<family>.go; adding an op is writing its function there and
// adding a row here.
var importers = map[string]func(*importer, *onnxpb.NodeProto) error{
	"Add":                (*importer).add,        // import_add.go
	"AveragePool":        (*importer).pool,       // import_pool.go
	"BatchNormalization": (*importer).batchNorm,  // import_norm.go
	"Clip":               (*importer).activation, // import_activation.go
	"Concat":             (*importer).concat,     // import_shape.go
	"Constant":           (*importer).constantOp, // import_identity.go
	"Conv":               (*importer).conv,       // import_conv.go
	"Dropout":            (*importer).identity,   // import_identity.go
	"Flatten":            (*importer).flattenOp,  // import_shape.go
	"Gemm":               (*importer).dense,      // import_gemm.go
	"GlobalAveragePool":  (*importer).globalPool, // import_pool.go
	"GlobalMaxPool":      (*importer).globalPool, // import_pool.go
	"HardSigmoid":        (*importer).activation, // import_activation.go
	"HardSwish":          (*importer).activation, // import_activation.go
	"Identity":           (*importer).identity,   // import_identity.go
	"MatMul":             (*importer).dense,      // import_gemm.go
	"MaxPool":            (*importer).pool,       // import_pool.go
	"Mul":                (*importer).mul,        // import_mul.go
	"Pad":                (*importer).pad,        // import_shape.go
	"Relu":               (*importer).activation, // import_activation.go
	"ReduceMean":         (*importer).reduceMean, // import_pool.go
	"Reshape":            (*importer).reshape,    // import_shape.go
	"Sigmoid":            (*importer).activation, // import_activation.go
	"Slice":              (*importer).slice,      // import_slice.go
	"Softmax":            (*importer).activation, // import_activation.go
	"Split":              (*importer).split,      // import_slice.go
	"Tanh":               (*importer).activation, // import_activation.go
	"Transpose":          (*importer).transpose,  // import_shape.go
}

// node imports one node: it checks what every op needs (an output, the
// default domain) and calls the op's function in importers.
func (im *importer) node(n *onnxpb.NodeProto) error {
	if len(n.GetOutput()) == 0 {
		return errors.New("node has no outputs")
	}
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("op domain %q is not supported", d)
	}
	if done, err := im.fold(n); done || err != nil {
		return err
	}
	imp, ok := importers[n.GetOpType()]
	if !ok {
		return fmt.Errorf("op type %s is not supported (supported: %s)", n.GetOpType(), strings.Join(SupportedOps, ", "))
	}
	return imp(im, n)
}

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
	// grouped: ONNX (N, g, C/g, H, W), the channel groups of an NCHW image
	// (a channel shuffle's first Reshape); goqat holds the image (N, H, W,
	// C) unchanged. Only Transpose and Reshape may read it.
	grouped
	// shuffled: ONNX (N, C/g, g, H, W), a grouped value with its group
	// axes swapped (the shuffle's Transpose); goqat still holds the
	// unshuffled image (N, H, W, C). Only Transpose and Reshape may read
	// it; the Reshape back to (N, C, H, W) makes the shuffle's layers.
	shuffled
)

// value is an ONNX value computed by the goqat graph under construction.
type value struct {
	node   *nn.Node
	lay    layout
	chw    [3]int // chwFlat: C, H, W
	groups int    // grouped, shuffled: g
	// parts are the inputs of the channel Concat that computed node, in
	// order, or nil: a channel shuffle needs its groups as whole tensors.
	parts []*nn.Node
	// nonNeg is set when every value is known to be >= 0 (an output of
	// ReLU, ReLU6, Sigmoid, HardSigmoid or Softmax, or computed from such
	// values by pools, Concat, Add, Mul, zero padding or layout changes):
	// zero padding then stands for MaxPool's -inf padding.
	nonNeg bool
}

// as returns a copy of v with another layout (the same goqat node).
func (v *value) as(lay layout) *value {
	c := *v
	c.lay = lay
	return &c
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
	case grouped:
		return tensor.Shape{v.groups, s[2] / v.groups, s[0], s[1]}
	case shuffled:
		return tensor.Shape{s[2] / v.groups, v.groups, s[0], s[1]}
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
	graphOut  map[string]bool // names of the graph's outputs
	// batchDep marks the values of folded constants computed from the
	// batch size (see import_fold.go); batch is the placeholder batch
	// size that Shape reports.
	batchDep map[string][]bool
	batch    int64
	names    map[string]bool
	setters  []func() error
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
// weights: Conv (group 1, or depthwise with group = channels; a 1x1 Conv
// of an (N, C, 1, 1) tensor as a Dense), BatchNormalization, Relu, Clip
// (as ReLU or ReLU6), Sigmoid, Tanh, HardSigmoid (alpha 1/6, beta 0.5),
// HardSwish, Mul (same shapes, or an image by an (N, C, 1, 1)
// squeeze-and-excitation gate; x * HardSigmoid(x) and x * Sigmoid(x) as
// one hard_swish or silu Activation), Add, Concat, MaxPool and AveragePool
// (explicit pads and ceil_mode as 'same' padding or a ZeroPadding2D where
// that computes the same values), GlobalAveragePool, GlobalMaxPool,
// ReduceMean over H and W, Gemm, MatMul (a following Add of a constant
// becomes its bias), Flatten, Reshape, Softmax, Pad (zeros), Transpose
// (between NCHW and NHWC), channel shuffles of a Concat (Reshape,
// Transpose, Reshape), Slice and Split (goqat Slice layers: torch.chunk),
// Identity, Dropout and Constant (SupportedOps). Subgraphs that compute
// from constants and static shapes only (Shape, Gather, Unsqueeze,
// Concat, Add, Div, ...: the bounds PyTorch computes for torch.chunk) are
// folded into constants first (import_fold.go). NCHW
// tensors become goqat's NHWC: an NCHW image input (N, C, H, W) becomes a
// goqat input (H, W, C), and an input read only through a Transpose to
// NCHW (goqat's own export) stays NHWC. Weights are reordered (Conv (OC,
// C, KH, KW) -> (KH, KW, C, OC); a Gemm after a Flatten of an NCHW image
// gets its rows permuted into goqat's (H, W, C) feature order). The model
// is ready for quantize.Model, Fit and Save. An unsupported op or
// attribute is a one-line error naming the node and its op type.
func Import(mp *onnxpb.ModelProto) (*nn.Model, error) {
	if mp == nil || mp.GetGraph() == nil {
		return nil, errors.New("onnx: model has no graph")
	}
	im := &importer{opset: 13, consts: map[string]*onnxpb.TensorProto{}, vals: map[string]*value{},
		consumers: map[string][]*onnxpb.NodeProto{}, skip: map[*onnxpb.NodeProto]bool{}, graphOut: map[string]bool{}, names: map[string]bool{},
		batchDep: map[string][]bool{}}
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
	for _, o := range g.GetOutput() {
		im.graphOut[o.GetName()] = true
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
		if v.lay == grouped || v.lay == shuffled {
			return nil, fmt.Errorf("onnx: graph output %q is a 5-D channel-group view %v of an image, which goqat (NHWC) cannot reproduce", vi.GetName(), v.shape())
		}
		outputs = append(outputs, v.node)
	}
	m, err := nn.NewModel(inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	// The work and memory the model would take, before it runs
	// (docs/RELIABILITY.md, Resource bounds).
	if err := m.CheckBounds(); err != nil {
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
	if im.batch == 0 {
		im.batch = 1
		if b := dimsP[0].GetDimValue(); b >= 1 && b <= maxInputDim {
			im.batch = b
		}
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

// in returns the computed (non-constant) input i of a node. Refused: a
// channel-group view (grouped, shuffled), which only view may return.
func (im *importer) in(n *onnxpb.NodeProto, i int) (*value, error) {
	v, err := im.view(n, i)
	if err == nil && (v.lay == grouped || v.lay == shuffled) {
		return nil, fmt.Errorf("input %q is a 5-D channel-group view %v of an image (part of a channel shuffle); only Transpose and Reshape may read it",
			n.GetInput()[i], v.shape())
	}
	return v, err
}

// view returns the computed (non-constant) input i of a node in any
// layout, channel-group views included.
func (im *importer) view(n *onnxpb.NodeProto, i int) (*value, error) {
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
// Refused: a constant computed from the batch size (see import_fold.go).
func (im *importer) constant(n *onnxpb.NodeProto, i int) (*onnxpb.TensorProto, error) {
	return im.batchConstant(n, i, 0)
}

// batchConstant is constant, except that the first lead values may
// depend on the batch size (Reshape's target, whose first entry is the
// batch).
func (im *importer) batchConstant(n *onnxpb.NodeProto, i, lead int) (*onnxpb.TensorProto, error) {
	if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
		return nil, nil
	}
	name := n.GetInput()[i]
	t, ok := im.consts[name]
	if !ok {
		return nil, fmt.Errorf("input %d (%q) must be a constant (an initializer, a Constant node, or computed from constants and shapes)", i, name)
	}
	for k, dep := range im.batchDep[name] {
		if dep && k >= lead {
			return nil, fmt.Errorf("input %d (%q) depends on the batch size (through a Shape), which goqat keeps dynamic", i, name)
		}
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

// attr returns a node's attribute called name, nil if it has none.
func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// intAttr returns an int attribute, def if absent.
func intAttr(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// floatAttr returns a float attribute, def if absent.
func floatAttr(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

// ints returns an ints attribute, nil if absent.
func ints(n *onnxpb.NodeProto, name string) []int64 {
	if a := attr(n, name); a != nil {
		return a.GetInts()
	}
	return nil
}

// attrString returns a string attribute, nil if absent.
func attrString(n *onnxpb.NodeProto, name string) []byte {
	if a := attr(n, name); a != nil {
		return a.GetS()
	}
	return nil
}

// equalInts reports whether a and b hold the same values.
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
