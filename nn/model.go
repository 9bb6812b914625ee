package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/goqat/goqat/internal/ops"
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
// "input_1", "input_2", ...
func Input(shape ...int) *Node { return InputNamed("", shape...) }

// InputNamed is Input with an explicit name.
func InputNamed(name string, shape ...int) *Node {
	n := &Node{id: nodeSeq.Add(1), shape: tensor.Shape(shape).Clone(), name: name}
	if len(shape) == 0 {
		n.err = errors.New("nn: Input needs a per-sample shape (batch dimension left out)")
	} else if err := n.shape.Valid(); err != nil {
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
	if len(l.Params()) > 0 || graphHasLayer(in, l) {
		n.err = fmt.Errorf("nn: layer %s is already used in this graph; shared layers are not supported", describe(l))
		return n
	}
	if l.Name() == "" {
		n.autoName = DefaultName(l.Type())
		l.SetName(n.autoName)
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
		n.shape = out.Clone()
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

// graphHasLayer reports whether l produced one of the nodes in, or one of
// their ancestors.
func graphHasLayer(in []*Node, l Layer) bool {
	seen := map[*Node]bool{}
	stack := append([]*Node(nil), in...)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if x.layer == l {
			return true
		}
		stack = append(stack, x.inbound...)
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

// step is one layer of a model's execution plan.
type step struct {
	node    *Node
	layer   Layer
	inSlots []int            // value slots of the layer's inputs
	ins     []*tensor.Tensor // reused argument slice for Forward

	// Fusion of a BatchNormalization with the ReLU or ReLU6 that alone
	// reads its output (see planFusion): on the BN's step, bn and act
	// (actCore of the activation layer) are set and the BN computes the
	// activation's output in the same pass; the activation's step has
	// fused set and only passes values and gradients through.
	bn    *BatchNormalization
	act   *actCore
	fused bool

	// pool, on a fused BN step, is the MaxPooling2D that alone reads the
	// activation's output (see planPoolFusion): the BN step computes the
	// pooled output too, and the pooling step, marked fused, only passes
	// values and gradients through. poolNode is the pooling's node.
	pool     *MaxPooling2D
	poolNode *Node

	// noInGrad marks a Conv2D whose inputs are all model inputs (see
	// planInputGrads): Backward skips its input gradient.
	noInGrad *Conv2D
}

// Model is a network of layers: a Functional model (any DAG of layers, with
// one or more inputs and outputs, built with Input, Call and NewModel) or a
// Sequential one (a chain, built with NewSequential), which is a Functional
// model flagged for Summary and saving. A Model is not safe for concurrent
// use.
type Model struct {
	name       string
	sequential bool
	inputs     []*Node
	outputs    []*Node
	steps      []step
	layers     []Layer
	byName     map[string]Layer
	params     []*Param
	outSlots   []int

	// Execution state, reused across passes.
	vals      []*tensor.Tensor // value of every slot: inputs, then layers
	outs      []*tensor.Tensor // Forward's result slice
	gradSrc   []*tensor.Tensor // gradient of every slot during Backward
	gradCnt   []int            // contributions received
	gradBuf   []*tensor.Tensor // model-owned sums for fanned-out slots
	forwarded bool
	inferCtx  Context

	stepCount int // optimizer steps taken (Context.Step)
	train     trainState
}

// NewModel returns a Functional model computing outputs from inputs. Every
// output must depend only on the given inputs, and every input must reach
// an output. Unnamed layers and inputs get unique Keras-style names
// ("conv2d", "conv2d_1", "input_1"); duplicate explicit names are an error.
// Layers whose weights were not initialized yet get InitWeights(0)'s
// values, so the model is usable at once; layers shared with a model built
// earlier on the same graph keep their weights.
func NewModel(inputs []*Node, outputs []*Node) (*Model, error) {
	return newModel(inputs, outputs, false)
}

// NewSequential returns a Sequential model: the layers applied in order to
// an input of the given per-sample shape.
func NewSequential(inputShape tensor.Shape, layers ...Layer) (*Model, error) {
	if len(layers) == 0 {
		return nil, errors.New("nn: NewSequential needs at least one layer")
	}
	x := Input(inputShape...)
	y := x
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("nn: NewSequential: layer %d is nil", i)
		}
		y = Call(l, y)
		if y.err != nil {
			return nil, y.err
		}
	}
	return newModel([]*Node{x}, []*Node{y}, true)
}

func newModel(inputs, outputs []*Node, sequential bool) (*Model, error) {
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

	// Names: explicit ones first, then defaults in order.
	nm := newNamer()
	for i, x := range inputs {
		if x.name != "" {
			if err := nm.reserve(x.name, fmt.Sprintf("input %d", i)); err != nil {
				return nil, fmt.Errorf("nn: NewModel: %w", err)
			}
		}
	}
	for _, x := range layerNodes {
		if x.autoName != "" && x.layer.Name() != x.autoName {
			x.autoName = "" // renamed by the user after Call
		}
		if x.autoName == "" {
			if err := nm.reserve(x.layer.Name(), "layer of type "+x.layer.Type()); err != nil {
				return nil, fmt.Errorf("nn: NewModel: %w", err)
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

	m := &Model{
		inputs:     append([]*Node(nil), inputs...),
		outputs:    append([]*Node(nil), outputs...),
		sequential: sequential,
		byName:     map[string]Layer{},
		name:       "model",
	}
	if sequential {
		m.name = "sequential"
	}
	slot := map[*Node]int{}
	for i, x := range inputs {
		slot[x] = i
	}
	for k, x := range layerNodes {
		slot[x] = len(inputs) + k
		st := step{node: x, layer: x.layer, ins: make([]*tensor.Tensor, len(x.inbound))}
		for _, p := range x.inbound {
			st.inSlots = append(st.inSlots, slot[p])
		}
		m.steps = append(m.steps, st)
		m.layers = append(m.layers, x.layer)
		m.byName[x.layer.Name()] = x.layer
	}
	for _, y := range outputs {
		m.outSlots = append(m.outSlots, slot[y])
	}
	nSlots := len(inputs) + len(layerNodes)
	m.vals = make([]*tensor.Tensor, nSlots)
	m.gradSrc = make([]*tensor.Tensor, nSlots)
	m.gradCnt = make([]int, nSlots)
	m.gradBuf = make([]*tensor.Tensor, nSlots)
	m.outs = make([]*tensor.Tensor, len(outputs))
	m.params = m.collectParams()
	m.planFusion(len(inputs))
	m.planPoolFusion(len(inputs))
	m.planInputGrads(len(inputs))
	m.initWeights(0, true)
	return m, nil
}

// planFusion marks every BatchNormalization whose output feeds only a
// ReLU, ReLU6 or Activation relu/relu6 layer (and is not a model output)
// to compute that activation in its own pass, forward and backward: one
// pass over the data instead of two each way, the values bit for bit those
// of the two layers run apart. It changes nothing a user sees: Layers,
// Summary and saved files are the same, and each layer's own Forward and
// Backward still work alone. Only the built-in types fuse, not types that
// embed them. base is the number of model inputs (slot of step 0).
func (m *Model) planFusion(base int) {
	readers := make([]int, len(m.vals))
	for _, st := range m.steps {
		for _, s := range st.inSlots {
			readers[s]++
		}
	}
	for _, s := range m.outSlots {
		readers[s]++
	}
	for k := range m.steps {
		st := &m.steps[k]
		var a *actCore
		switch l := st.layer.(type) {
		case *ReLU:
			a = &l.actCore
		case *ReLU6:
			a = &l.actCore
		case *Activation:
			a = &l.actCore
		default:
			continue
		}
		if len(st.inSlots) != 1 || st.inSlots[0] < base || a.fusedKind() == actLinear {
			continue
		}
		src := st.inSlots[0]
		prev := &m.steps[src-base]
		bn, ok := prev.layer.(*BatchNormalization)
		if !ok || readers[src] != 1 || len(prev.inSlots) != 1 {
			continue
		}
		prev.bn, prev.act = bn, a
		st.fused = true
	}
}

// planPoolFusion extends a BatchNormalization+activation fusion of
// planFusion with the MaxPooling2D that alone reads the activation's
// output (which is not a model output), when its windows tile the image
// (ops.MaxPoolTiles: strides equal to the window, the usual pooling): the
// BN step then writes the pooled output in the same pass, per image
// through a buffer that stays in the cache, and its backward rebuilds the
// pooling's gradient per image instead of storing it; the activation's
// output is never stored. The values are bit for bit those of the three
// layers run apart. Only the built-in type fuses. base is the number of
// model inputs.
func (m *Model) planPoolFusion(base int) {
	readers := make([]int, len(m.vals)) // layers and outputs reading a slot
	reader := make([]int, len(m.vals))  // the (last) step reading a slot
	for k, st := range m.steps {
		for _, s := range st.inSlots {
			readers[s]++
			reader[s] = k
		}
	}
	for _, s := range m.outSlots {
		readers[s]++
	}
	for k := range m.steps {
		st := &m.steps[k]
		if st.act == nil {
			continue
		}
		// The activation step is the one reading this BN's slot.
		bnSlot := base + k
		if readers[bnSlot] != 1 {
			continue
		}
		ak := reader[bnSlot]
		if !m.steps[ak].fused {
			continue
		}
		aSlot := base + ak
		if readers[aSlot] != 1 {
			continue
		}
		pk := reader[aSlot]
		ps := &m.steps[pk]
		pool, ok := ps.layer.(*MaxPooling2D)
		if !ok || len(ps.inSlots) != 1 || !ops.MaxPoolTiles(pool.geom) || len(st.node.shape) != 3 {
			continue
		}
		st.pool, st.poolNode = pool, ps.node
		ps.fused = true
	}
}

// planInputGrads marks every Conv2D that reads only model inputs, whose
// input gradient Backward drops: such a layer computes its weight gradients
// alone (no dCol GEMM, no col2im), the same values. Only the built-in type
// is marked, not types that embed it. base is the number of model inputs.
func (m *Model) planInputGrads(base int) {
	for k := range m.steps {
		st := &m.steps[k]
		conv, ok := st.layer.(*Conv2D)
		if !ok || len(st.inSlots) == 0 {
			continue
		}
		fromInputs := true
		for _, s := range st.inSlots {
			fromInputs = fromInputs && s < base
		}
		if fromInputs {
			st.noInGrad = conv
		}
	}
}

// collectParams lists every layer's parameters in layer order.
func (m *Model) collectParams() []*Param {
	var ps []*Param
	for _, l := range m.layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// InitWeights sets every layer's initial weights from seed: the i-th layer
// in Layers() order that implements Initializer gets a source seeded with
// (seed, i), so the result is deterministic and does not depend on other
// layers.
func (m *Model) InitWeights(seed uint64) { m.initWeights(seed, false) }

func (m *Model) initWeights(seed uint64, onlyNew bool) {
	for i, st := range m.steps {
		if onlyNew && st.node.inited {
			continue
		}
		if ini, ok := st.layer.(Initializer); ok {
			ini.InitWeights(rand.New(rand.NewPCG(seed, uint64(i))))
		}
		st.node.inited = true
	}
}

// Name returns the model's name ("sequential" or "model" by default).
func (m *Model) Name() string { return m.name }

// SetName renames the model.
func (m *Model) SetName(name string) { m.name = name }

// Sequential reports whether the model was built by NewSequential (or
// loaded from a Sequential model).
func (m *Model) Sequential() bool { return m.sequential }

// Layers returns the layers in topological order (the order they were
// called in).
func (m *Model) Layers() []Layer { return append([]Layer(nil), m.layers...) }

// Layer returns the layer with the given name, or nil.
func (m *Model) Layer(name string) Layer { return m.byName[name] }

// Params returns every layer's parameters, in Layers() order and each
// layer's own order.
func (m *Model) Params() []*Param { return append([]*Param(nil), m.params...) }

// Inputs returns the per-sample shapes of the model's inputs.
func (m *Model) Inputs() []tensor.Shape {
	out := make([]tensor.Shape, len(m.inputs))
	for i, x := range m.inputs {
		out[i] = x.shape.Clone()
	}
	return out
}

// Outputs returns the per-sample shapes of the model's outputs.
func (m *Model) Outputs() []tensor.Shape {
	out := make([]tensor.Shape, len(m.outputs))
	for i, y := range m.outputs {
		out[i] = y.shape.Clone()
	}
	return out
}

// InputNames returns the names of the model's inputs ("input_1").
func (m *Model) InputNames() []string {
	out := make([]string, len(m.inputs))
	for i, x := range m.inputs {
		out[i] = x.name
	}
	return out
}

// OutputNames returns, for each output, the name of the layer (or input)
// that produces it.
func (m *Model) OutputNames() []string {
	out := make([]string, len(m.outputs))
	for i, y := range m.outputs {
		out[i] = nodeName(y)
	}
	return out
}

// Inbound returns the names of the layers or inputs that feed the named
// layer, in argument order, or nil if there is no such layer.
func (m *Model) Inbound(layer string) []string {
	for _, st := range m.steps {
		if st.layer.Name() == layer {
			out := make([]string, len(st.node.inbound))
			for i, p := range st.node.inbound {
				out[i] = nodeName(p)
			}
			return out
		}
	}
	return nil
}

// OutputShape returns the per-sample output shape of the named layer, or
// nil if there is no such layer.
func (m *Model) OutputShape(layer string) tensor.Shape {
	for _, st := range m.steps {
		if st.layer.Name() == layer {
			return st.node.shape.Clone()
		}
	}
	return nil
}

// Step returns the number of optimizer steps taken by Fit so far, over all
// calls; Fit passes it to layers as Context.Step.
func (m *Model) Step() int { return m.stepCount }

// SetStep sets the optimizer step counter, e.g. when resuming training.
func (m *Model) SetStep(n int) { m.stepCount = n }

// nodeName is the name of an input or of the layer producing a node.
func nodeName(n *Node) string {
	if n.layer == nil {
		return n.name
	}
	return n.layer.Name()
}

// withN formats a per-sample shape with a leading batch dimension "N".
func withN(s tensor.Shape) string {
	var b strings.Builder
	b.WriteString("(N")
	for _, d := range s {
		fmt.Fprintf(&b, ", %d", d)
	}
	b.WriteByte(')')
	return b.String()
}

// checkInputs validates the tensors given to Forward: one per input, each
// (batch, per-sample shape...), all with the same batch size.
func (m *Model) checkInputs(in []*tensor.Tensor) error {
	if len(in) != len(m.inputs) {
		return fmt.Errorf("nn: model %q takes %d inputs, got %d", m.name, len(m.inputs), len(in))
	}
	for i, t := range in {
		want := m.inputs[i].shape
		if t == nil {
			return fmt.Errorf("input %d: nil tensor, want shape %s", i, withN(want))
		}
		ok := len(t.Shape) == len(want)+1 && t.Shape[0] > 0 && t.Shape[1:].Equal(want) && len(t.Data) == t.Shape.Size()
		if !ok {
			got := "()"
			if len(t.Shape) > 0 {
				got = withN(t.Shape[1:])
				if t.Shape[0] <= 0 {
					got = t.Shape.String()
				}
			}
			return fmt.Errorf("input %d: got shape %s, want %s", i, got, withN(want))
		}
		if t.Shape[0] != in[0].Shape[0] {
			return fmt.Errorf("input %d: batch size %d differs from input 0's %d", i, t.Shape[0], in[0].Shape[0])
		}
	}
	return nil
}

// Forward runs the model on a batch: in holds one tensor per input, each
// (N, per-sample shape...). It returns one tensor per output. The tensors
// and the slice are owned by the model and its layers, read-only, and valid
// until the next Forward. A nil Context means inference.
func (m *Model) Forward(c *Context, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := m.checkInputs(in); err != nil {
		return nil, err
	}
	if c == nil {
		m.inferCtx = Context{Step: m.stepCount}
		c = &m.inferCtx
	}
	n := in[0].Shape[0]
	copy(m.vals, in)
	base := len(m.inputs)
	for k := range m.steps {
		st := &m.steps[k]
		for j, s := range st.inSlots {
			st.ins[j] = m.vals[s]
		}
		var out *tensor.Tensor
		switch {
		case st.fused:
			// Computed by the BatchNormalization before it.
			m.vals[base+k] = m.vals[st.inSlots[0]]
			continue
		case st.pool != nil:
			// The BN slot holds the pooling's output, which the
			// activation and pooling steps pass on.
			out = st.bn.forwardActPool(c, st.ins[0], st.act.fusedKind(), st.pool)
		case st.act != nil:
			// The BN slot holds the activation's output: only the
			// activation reads it, and Backward only needs its shape.
			out = st.act.fusedOut(st.ins[0])
			st.bn.forwardAct(c, st.ins[0], st.act.fusedKind(), out)
		default:
			out = st.layer.Forward(c, st.ins)
		}
		want := st.node.shape
		if st.poolNode != nil {
			want = st.poolNode.shape
		}
		if out == nil || len(out.Shape) != len(want)+1 || out.Shape[0] != n || !out.Shape[1:].Equal(want) || len(out.Data) != out.Shape.Size() {
			got := "nil"
			if out != nil {
				got = out.Shape.String()
			}
			return nil, fmt.Errorf("nn: layer %s returned shape %s from Forward, want %s with N = %d", describe(st.layer), got, withN(want), n)
		}
		m.vals[base+k] = out
	}
	for i, s := range m.outSlots {
		m.outs[i] = m.vals[s]
	}
	m.forwarded = true
	return m.outs, nil
}

// Backward propagates dL/doutput (one tensor per output, shaped like
// Forward's result) back through the last Forward, in reverse topological
// order, leaving dL/dparam in every trainable Param.Grad. Where a tensor
// feeds several layers, the gradients flowing back into it are summed (in a
// fixed order) in buffers the model reuses across steps.
func (m *Model) Backward(c *Context, dOut ...*tensor.Tensor) error {
	if !m.forwarded {
		return errors.New("nn: Backward called before Forward")
	}
	if len(dOut) != len(m.outputs) {
		return fmt.Errorf("nn: model %q has %d outputs, Backward got %d gradients", m.name, len(m.outputs), len(dOut))
	}
	for i, d := range dOut {
		want := m.outs[i].Shape
		if d == nil || !d.Shape.Equal(want) || len(d.Data) != want.Size() {
			got := "nil"
			if d != nil {
				got = d.Shape.String()
			}
			return fmt.Errorf("nn: gradient %d has shape %s, want %s", i, got, want)
		}
	}
	if c == nil {
		m.inferCtx = Context{Step: m.stepCount}
		c = &m.inferCtx
	}
	clear(m.gradCnt)
	clear(m.gradSrc)
	for i, d := range dOut {
		m.addGrad(m.outSlots[i], d)
	}
	base := len(m.inputs)
	for k := len(m.steps) - 1; k >= 0; k-- {
		st := &m.steps[k]
		g := m.gradSrc[base+k]
		if g == nil {
			continue // unreachable: every layer leads to an output
		}
		var dIns []*tensor.Tensor
		switch {
		case st.fused:
			// The BatchNormalization before it masks g itself.
			m.addGrad(st.inSlots[0], g)
			continue
		case st.pool != nil:
			dIns = st.bn.backwardActPool(g, st.act.fusedKind(), st.pool)
		case st.act != nil:
			dIns = st.bn.backwardAct(g, st.act.fusedKind())
		case st.noInGrad != nil:
			dIns = st.noInGrad.backwardParams(g)
		default:
			dIns = st.layer.Backward(c, g)
		}
		if len(dIns) != len(st.inSlots) {
			return fmt.Errorf("nn: layer %s returned %d gradients from Backward for %d inputs", describe(st.layer), len(dIns), len(st.inSlots))
		}
		for j, s := range st.inSlots {
			if s < base {
				continue // model inputs need no gradient
			}
			d := dIns[j]
			if d == nil || !d.Shape.Equal(m.vals[s].Shape) {
				got := "nil"
				if d != nil {
					got = d.Shape.String()
				}
				return fmt.Errorf("nn: layer %s returned a gradient of shape %s for input %d, want %s", describe(st.layer), got, j, m.vals[s].Shape)
			}
			m.addGrad(s, d)
		}
	}
	return nil
}

// addGrad adds a gradient contribution to slot s. The first contribution
// is used as is (no copy); the second is summed with it into the slot's
// model-owned buffer, which later ones are added to. The sums are serial:
// they are cheap next to the layers, and stay allocation-free.
func (m *Model) addGrad(s int, d *tensor.Tensor) {
	switch m.gradCnt[s] {
	case 0:
		m.gradSrc[s] = d
	case 1:
		buf := tensor.Ensure(&m.gradBuf[s], d.Shape...)
		a, b := m.gradSrc[s].Data, d.Data
		a, b = a[:len(buf.Data)], b[:len(buf.Data)]
		for i := range buf.Data {
			buf.Data[i] = a[i] + b[i]
		}
		m.gradSrc[s] = buf
	default:
		dst := m.gradSrc[s].Data
		x := d.Data[:len(dst)]
		for i := range dst {
			dst[i] += x[i]
		}
	}
	m.gradCnt[s]++
}
