package onnx

import (
	"errors"
	"fmt"
	"slices"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Constant folding at import. Exporters compute some operator arguments
// in the graph from the static shapes of tensors: PyTorch writes
// torch.chunk as Slice whose bounds come from Shape -> Gather -> Add ->
// Div -> Mul, and x.view(x.size(0), -1) as a Reshape whose target comes
// from Shape -> Gather -> Unsqueeze -> Concat. goqat's layers take such
// arguments as numbers, so Import computes these subgraphs once, when it
// meets them: a node of the folders table whose inputs are all constants
// (initializers, Constant nodes, outputs of nodes folded before it), and
// Shape or Size of any tensor (the shapes of goqat's tensors are static),
// becomes a constant that later nodes read like an initializer. The
// arithmetic is ONNX's: int64 (or int32) values with every overflow an
// error, Div truncating toward zero as ONNX Runtime does, float32 values
// rounded as a float32 runtime does; numpy broadcasting. A node whose input
// is computed from the model's inputs is imported as a layer when its op
// has one (Slice, Concat, Add, Mul, Reshape) and is otherwise a one-line
// error naming the input.
//
// The batch size is dynamic in goqat: the first entry of a tensor's Shape
// is a placeholder (the graph input's declared batch, or 1), and every
// value computed from it is marked batch-dependent (folding carries the
// marks along). Of the importers, only Reshape accepts such a value, as
// the first entry of its target shape (the batch, which stays first);
// anywhere else (a Slice bound, another Reshape entry, an index of a
// folded Gather or Slice) it is an error.

// maxFoldElements bounds the element count of a tensor made by folding,
// checked before it is allocated: folding computes shapes and indices,
// not data.
const maxFoldElements = 1 << 16

// cval is a constant tensor while folding.
type cval struct {
	typ  onnxpb.TensorProto_DataType // INT64, INT32 or FLOAT
	dims []int
	i    []int64   // INT64 and INT32 values
	f    []float32 // FLOAT values
	// batch marks the values computed from the batch size; nil: none.
	batch []bool
}

// isInt reports whether c holds integers.
func (c *cval) isInt() bool { return c.typ != onnxpb.TensorProto_FLOAT }

// size returns c's element count.
func (c *cval) size() int {
	if c.isInt() {
		return len(c.i)
	}
	return len(c.f)
}

// dep reports whether value k of c depends on the batch size.
func (c *cval) dep(k int) bool { return k < len(c.batch) && c.batch[k] }

// anyDep reports whether any value of c depends on the batch size.
func (c *cval) anyDep() bool { return slices.Contains(c.batch, true) }

// newCval returns a zero tensor of type typ and dimensions dims, or an
// error if it would hold more than maxFoldElements values.
func newCval(typ onnxpb.TensorProto_DataType, dims []int) (*cval, error) {
	n, err := foldSize(dims)
	if err != nil {
		return nil, err
	}
	c := &cval{typ: typ, dims: dims}
	if c.isInt() {
		c.i = make([]int64, n)
	} else {
		c.f = make([]float32, n)
	}
	return c, nil
}

// foldSize returns the element count of dims, or an error if a dimension
// is negative or the count passes maxFoldElements.
func foldSize(dims []int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", dims)
		}
		if d > 0 && n > maxFoldElements/d {
			return 0, fmt.Errorf("folding would make a tensor of dimensions %v, more than %d values (folding computes shapes and indices, not data)", dims, maxFoldElements)
		}
		n *= d
	}
	return n, nil
}

// setDep marks value k of c as batch-dependent. c must own its marks
// (a new tensor's, not an input's).
func (c *cval) setDep(k int) {
	if len(c.batch) < c.size() {
		c.batch = append(c.batch, make([]bool, c.size()-len(c.batch))...)
	}
	c.batch[k] = true
}

// copyVal copies value j of src into value k of c (same type).
func (c *cval) copyVal(k int, src *cval, j int) {
	if c.isInt() {
		c.i[k] = src.i[j]
	} else {
		c.f[k] = src.f[j]
	}
	if src.dep(j) {
		c.setDep(k)
	}
}

// proto returns c as a named tensor.
func (c *cval) proto(name string) *onnxpb.TensorProto {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(c.typ)), Dims: dims64(c.dims)}
	switch c.typ {
	case onnxpb.TensorProto_INT64:
		t.Int64Data = append([]int64{}, c.i...)
	case onnxpb.TensorProto_INT32:
		t.Int32Data = make([]int32, len(c.i))
		for k, v := range c.i {
			t.Int32Data[k] = int32(v)
		}
	default:
		t.FloatData = append([]float32{}, c.f...)
	}
	return t
}

// readCval reads a constant as a cval, with the batch marks folding left
// on it.
func (im *importer) readCval(name string) (*cval, error) {
	c, err := tensorCval(im.consts[name])
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	c.batch = im.batchDep[name]
	return c, nil
}

// tensorCval reads an INT64, INT32 or FLOAT tensor as a cval.
func tensorCval(t *onnxpb.TensorProto) (*cval, error) {
	typ := onnxpb.TensorProto_DataType(t.GetDataType())
	c := &cval{typ: typ, dims: dims(t)}
	var err error
	switch typ {
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		c.i, err = intData(t)
	case onnxpb.TensorProto_FLOAT:
		c.f, err = floatData(t)
	default:
		return nil, fmt.Errorf("data type %s; folding reads INT64, INT32 and FLOAT tensors", typ)
	}
	return c, err
}

// folders is the table of the ops Import folds into constants (see the
// top of this file): the function computing a node's output from its
// inputs (nil for an absent optional input). Shape and Size read the shape
// of their input, constant or computed (see fold).
var folders = map[string]func(im *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error){
	"Add":             foldArith,
	"Sub":             foldArith,
	"Mul":             foldArith,
	"Div":             foldArith,
	"Neg":             foldNeg,
	"Cast":            foldCast,
	"Concat":          foldConcat,
	"Gather":          foldGather,
	"Unsqueeze":       foldUnsqueeze,
	"Squeeze":         foldSqueeze,
	"Reshape":         foldReshape,
	"Slice":           foldSlice,
	"ConstantOfShape": foldConstantOfShape,
	"Range":           foldRange,
	"Shape":           foldShape,
	"Size":            foldSize1,
}

// fold folds node n into a constant if it can: it returns true when the
// node is done (folded, or refused with an error), false when the node's
// importer should import it (an op of both tables with a computed input).
func (im *importer) fold(n *onnxpb.NodeProto) (bool, error) {
	op := n.GetOpType()
	f, ok := folders[op]
	if !ok {
		return false, nil
	}
	var in []*cval
	if op == "Shape" || op == "Size" {
		c, err := im.shapeOf(n)
		if err != nil {
			return true, err
		}
		in = []*cval{c}
	} else {
		for _, name := range n.GetInput() {
			if name == "" {
				in = append(in, nil)
				continue
			}
			if _, computed := im.vals[name]; computed {
				if _, imp := importers[op]; imp {
					return false, nil
				}
				return true, fmt.Errorf("op type %s is supported only on constants and shapes, which Import folds into constants; "+
					"input %q is computed from the model's inputs", op, name)
			}
			if _, ok := im.consts[name]; !ok {
				return true, fmt.Errorf("input %q is not computed before the node", name)
			}
			c, err := im.readCval(name)
			if err != nil {
				return true, err
			}
			in = append(in, c)
		}
		if len(in) == 0 || in[0] == nil {
			return true, errors.New("missing input 0")
		}
	}
	out, err := f(im, n, in)
	if err != nil {
		return true, fmt.Errorf("folding into a constant: %w", err)
	}
	name := n.GetOutput()[0]
	im.consts[name] = out.proto(name)
	if out.anyDep() {
		im.batchDep[name] = out.batch
	}
	return true, nil
}

// shapeOf returns the ONNX shape (INT64, batch included) of input 0 of a
// Shape or Size node: a constant's dimensions, or a computed tensor's,
// whose first entry, the dynamic batch, is the placeholder im.batch,
// marked batch-dependent.
func (im *importer) shapeOf(n *onnxpb.NodeProto) (*cval, error) {
	if len(n.GetInput()) == 0 {
		return nil, errors.New("missing input 0")
	}
	name := n.GetInput()[0]
	c := &cval{typ: onnxpb.TensorProto_INT64}
	if t, ok := im.consts[name]; ok {
		for _, d := range dims(t) {
			c.i = append(c.i, int64(d))
		}
	} else if v, ok := im.vals[name]; ok {
		c.i = append(c.i, im.batch)
		for _, d := range v.shape() {
			c.i = append(c.i, int64(d))
		}
		c.setDep(0)
	} else {
		return nil, fmt.Errorf("input %q is not computed before the node", name)
	}
	c.dims = []int{len(c.i)}
	return c, nil
}
