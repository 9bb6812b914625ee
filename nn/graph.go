package nn

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

// nodeSeq numbers nodes in creation order. A node's inputs always exist
// before it, so sorting a graph's nodes by number is a topological order,
// and the one that follows the user's code.
var nodeSeq atomic.Uint64

// Node is a symbolic tensor of a model under construction: a model input
// (from Input) or the output of a layer (from Call). It records its
// per-sample shape, and any error made while building the graph so that
// user code can chain calls and check once, at NewModel.
type Node struct {
	id       uint64
	layer    Layer   // nil for an input
	inbound  []*Node // the layer's inputs
	shape    tensor.Shape
	name     string // input name; "" until named
	autoName string // the provisional default name Call gave the layer, "" if none
	inited   bool   // a model has initialized the layer's weights
	err      error
}

// Input returns a model input with the given per-sample shape (batch left
// out), e.g. Input(28, 28, 1) for MNIST images. Models name unnamed inputs
// "input_1", "input_2", ... A shape must have positive dimensions and at
// most 2^28 values, as must every layer's output (Call).
func Input(shape ...int) *Node { return InputNamed("", shape...) }

// InputNamed is Input with an explicit name.
func InputNamed(name string, shape ...int) *Node {
	n := &Node{id: nodeSeq.Add(1), shape: tensor.Shape(shape).Clone(), name: name}
	if len(shape) == 0 {
		n.err = errors.New("nn: Input needs a per-sample shape (batch dimension left out)")
	} else if _, err := bounds.Values(n.shape); err != nil {
		n.err = fmt.Errorf("nn: Input: %w", err)
	}
	return n
}

// Call applies layer l to the nodes in and returns its output node. It
// builds the layer at once (shape inference through Layer.Build); an error,
// or an error of an input node, is recorded in the returned node and
// reported by NewModel. A layer may be called only once: shared layers are
// not supported. An unnamed layer gets its type's default name ("dense") at
// once, and its final unique name ("dense_2") from the model.
func Call(l Layer, in ...*Node) *Node {
	n := &Node{id: nodeSeq.Add(1), layer: l, inbound: append([]*Node(nil), in...)}
	if l == nil {
		n.err = errors.New("nn: Call with a nil layer")
		return n
	}
	if len(in) == 0 {
		n.err = fmt.Errorf("nn: Call(%s) with no inputs", describe(l))
		return n
	}
	for i, x := range in {
		if x == nil {
			n.err = fmt.Errorf("nn: Call(%s): input %d is nil", describe(l), i)
			return n
		}
		if x.err != nil {
			n.err = x.err
			return n
		}
	}
	ml, nested := l.(*ModelLayer)
	if nested && ml.called || !nested && len(l.Params()) > 0 || producedBy(in, l) {
		n.err = fmt.Errorf("nn: layer %s is already used in this graph; shared layers are not supported", describe(l))
		return n
	}
	if d, ok := l.(definer); ok {
		d.blockOf().self = d // Block.Build runs the embedding type's Define
	}
	if l.Name() == "" {
		n.autoName = DefaultName(l.Type())
		l.SetName(n.autoName)
	} else if nested && (l.Name() == "model" || l.Name() == "sequential") {
		n.autoName = l.Name() // a model's default name, made unique like a layer's
	}
	shapes := make([]tensor.Shape, len(in))
	for i, x := range in {
		shapes[i] = x.shape.Clone()
	}
	out, err := l.Build(shapes)
	switch {
	case err != nil && strings.Contains(err.Error(), l.Name()):
		n.err = err
	case err != nil:
		n.err = fmt.Errorf("%s: %w", describe(l), err)
	case out == nil:
		n.err = fmt.Errorf("%s: Build returned no output shape", describe(l))
	default:
		// Checked before a later layer builds on it, so that no shape
		// arithmetic downstream (in Build or in the resource plan) can
		// overflow (docs/RELIABILITY.md, Resource bounds).
		if _, err := bounds.Values(out); err != nil {
			n.err = fmt.Errorf("%s: output %w", describe(l), err)
			break
		}
		n.shape = out.Clone()
		if nested {
			// A model keeps its weights (a pretrained backbone): the
			// outer model does not initialize them.
			ml.called, n.inited = true, true
		}
	}
	return n
}

// describe names a layer in messages: `"dense" (Dense)`, or its type if it
// has no name yet.
func describe(l Layer) string {
	if l.Name() == "" {
		return l.Type()
	}
	return fmt.Sprintf("%q (%s)", l.Name(), l.Type())
}

// producedBy reports whether l produced one of the nodes in. Call checks
// only the direct inputs, in constant time per input, so that building
// (and loading) a chain of n layers takes time linear in n: a built layer
// has parameters (Params), and a parameterless layer used twice in a graph
// is refused by NewModel (graphLayers), which walks the graph once.
func producedBy(in []*Node, l Layer) bool {
	for _, x := range in {
		if x.layer == l {
			return true
		}
	}
	return false
}

// Shape returns the node's per-sample shape (batch left out), nil if the
// node has an error.
func (n *Node) Shape() tensor.Shape {
	if n.err != nil {
		return nil
	}
	return n.shape.Clone()
}

// Err returns the error recorded while building the node, if any.
func (n *Node) Err() error { return n.err }

// Layer returns the layer that produces the node, nil for an input.
func (n *Node) Layer() Layer { return n.layer }

// nodeName is the name of an input or of the layer producing a node.
func nodeName(n *Node) string {
	if n.layer == nil {
		return n.name
	}
	return n.layer.Name()
}

// graphLayers checks the graph from inputs to outputs for NewModel and
// returns the nodes of the layers the outputs depend on, in topological
// order (creation order, see nodeSeq). Every output must depend only on
// the given inputs, every input must reach an output, and no layer may
// appear twice.
func graphLayers(inputs, outputs []*Node) ([]*Node, error) {
	if len(inputs) == 0 {
		return nil, errors.New("nn: NewModel: no inputs")
	}
	if len(outputs) == 0 {
		return nil, errors.New("nn: NewModel: no outputs")
	}
	isInput := map[*Node]int{}
	for i, x := range inputs {
		switch {
		case x == nil:
			return nil, fmt.Errorf("nn: NewModel: input %d is nil", i)
		case x.err != nil:
			return nil, x.err
		case x.layer != nil:
			return nil, fmt.Errorf("nn: NewModel: input %d is the output of layer %s, not an Input", i, describe(x.layer))
		}
		if j, dup := isInput[x]; dup {
			return nil, fmt.Errorf("nn: NewModel: inputs %d and %d are the same node", j, i)
		}
		isInput[x] = i
	}
	for i, y := range outputs {
		if y == nil {
			return nil, fmt.Errorf("nn: NewModel: output %d is nil", i)
		}
		if y.err != nil {
			return nil, y.err
		}
	}

	// Collect the nodes the outputs depend on.
	seen := map[*Node]bool{}
	var layerNodes []*Node
	stack := append([]*Node(nil), outputs...)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if x.err != nil {
			return nil, x.err
		}
		if x.layer == nil {
			if _, ok := isInput[x]; !ok {
				return nil, fmt.Errorf("nn: NewModel: the outputs depend on an Input of shape %v that is not among the model's inputs", x.shape)
			}
			continue
		}
		layerNodes = append(layerNodes, x)
		stack = append(stack, x.inbound...)
	}
	for i, x := range inputs {
		if !seen[x] {
			return nil, fmt.Errorf("nn: NewModel: input %d (shape %v) is not connected to any output", i, x.shape)
		}
	}
	sort.Slice(layerNodes, func(i, j int) bool { return layerNodes[i].id < layerNodes[j].id })
	owner := map[Layer]*Node{}
	for _, x := range layerNodes {
		if _, dup := owner[x.layer]; dup {
			return nil, fmt.Errorf("nn: layer %s is already used in this graph; shared layers are not supported", describe(x.layer))
		}
		owner[x.layer] = x
	}
	return layerNodes, nil
}

// nameGraph gives the unnamed inputs and layers of a model's graph unique
// Keras-style names ("input_1", "conv2d_1"), after reserving the explicit
// ones: a duplicate explicit name is an error. layerNodes is in
// topological order, the order default names are handed out in.
func nameGraph(inputs, layerNodes []*Node) error {
	// Names: explicit ones first, then defaults in order.
	nm := newNamer()
	for i, x := range inputs {
		if x.name != "" {
			if err := nm.reserve(x.name, fmt.Sprintf("input %d", i)); err != nil {
				return fmt.Errorf("nn: NewModel: %w", err)
			}
		}
	}
	for _, x := range layerNodes {
		if x.autoName != "" && x.layer.Name() != x.autoName {
			x.autoName = "" // renamed by the user after Call
		}
		if x.autoName == "" {
			if err := nm.reserve(x.layer.Name(), "layer of type "+x.layer.Type()); err != nil {
				return fmt.Errorf("nn: NewModel: %w", err)
			}
		}
	}
	for _, x := range inputs {
		if x.name == "" {
			x.name = nm.freshFrom1("input")
		}
	}
	for _, x := range layerNodes {
		if x.autoName != "" {
			x.layer.SetName(nm.fresh(x.autoName))
			x.autoName = ""
		}
	}
	return nil
}
