// Package transform holds the graph rewrites of quantization-aware training
// (tfmot's model transforms, as small pattern/replacement units): an
// editable copy of a model's architecture and weights (Graph), the
// Conv2D / DepthwiseConv2D / Dense + BatchNormalization (+ ReLU / ReLU6)
// fold (FoldBatchNorm) and the SeparableConv2D split (SplitSeparable).
//
// A rewrite never touches the model the graph was copied from: FromModel
// copies every weight, and Build makes new layers.
package transform

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Graph is an editable model: inputs, layer nodes in topological order and
// the names of the outputs, as nn.Save records them.
type Graph struct {
	// Name is the model's name.
	Name string
	// Sequential marks a model built by nn.NewSequential; Build keeps it
	// Sequential if the graph is still a chain.
	Sequential bool
	// Inputs are the model inputs.
	Inputs []Input
	// Nodes are the layers, each after its inbound nodes.
	Nodes []*Node
	// Outputs names the nodes (or inputs) that are the model's outputs.
	Outputs []string
}

// Input is a model input.
type Input struct {
	Name  string
	Shape tensor.Shape
}

// Node is one layer of a Graph.
type Node struct {
	// Name is the layer's name, unique in the graph.
	Name string
	// Type and Config are the layer's registered type and JSON config.
	Type   string
	Config json.RawMessage
	// Inbound names the nodes or inputs that feed the layer, in order.
	Inbound []string
	// Weights holds the values to load into the built layer's parameters,
	// by Param.Name (copies; parameters not listed keep their initial
	// values).
	Weights map[string]*tensor.Tensor
	// Layer, if set, is an unbuilt layer Build uses instead of constructing
	// one from Type and Config.
	Layer nn.Layer
	// Orig is the layer the node was copied from (read only; nil for nodes
	// made by a rewrite).
	Orig nn.Layer
}

// FromModel copies m's architecture and weights into a Graph. m is not
// modified and shares no memory with the result. Composite layers (nested
// models, user-defined blocks: nn.Composite) are flattened: their
// sub-layers become nodes of the graph named "<composite>/<sub-layer>",
// wired as the composite wires them, so that rewrites see them as if they
// were written inline (docs/DESIGN.md, Subclassed and nested models).
func FromModel(m *nn.Model) (*Graph, error) {
	g := &Graph{Name: m.Name(), Sequential: m.Sequential()}
	names := map[string]string{}
	for i, name := range m.InputNames() {
		g.Inputs = append(g.Inputs, Input{Name: name, Shape: m.Inputs()[i]})
		names[name] = name
	}
	if err := g.addModel(m, "", names); err != nil {
		return nil, err
	}
	for _, out := range m.OutputNames() {
		g.Outputs = append(g.Outputs, names[out])
	}
	return g, nil
}

// addModel adds m's layers to g, their names prefixed with prefix. names
// maps m's inputs to the graph names that feed them, and receives the
// graph name of every layer's output.
func (g *Graph) addModel(m *nn.Model, prefix string, names map[string]string) error {
	for _, l := range m.Layers() {
		var inbound []string
		for _, in := range m.Inbound(l.Name()) {
			inbound = append(inbound, names[in])
		}
		if c, ok := l.(nn.Composite); ok && c.Inner() != nil {
			inner := c.Inner()
			sub := map[string]string{}
			for i, name := range inner.InputNames() {
				if i >= len(inbound) {
					return fmt.Errorf("layer %q: %d inputs for a model of %d", l.Name(), len(inbound), len(inner.InputNames()))
				}
				sub[name] = inbound[i]
			}
			if err := g.addModel(inner, prefix+l.Name()+"/", sub); err != nil {
				return err
			}
			outs := inner.OutputNames()
			if len(outs) != 1 {
				return fmt.Errorf("layer %q: composite with %d outputs", l.Name(), len(outs))
			}
			names[l.Name()] = sub[outs[0]]
			continue
		}
		cfg, err := json.Marshal(l.Config())
		if err != nil {
			return fmt.Errorf("layer %q: config: %w", prefix+l.Name(), err)
		}
		name := prefix + l.Name()
		n := &Node{Name: name, Type: l.Type(), Config: cfg, Inbound: inbound, Weights: map[string]*tensor.Tensor{}, Orig: l}
		for _, p := range l.Params() {
			n.Weights[p.Name] = p.Value.Clone()
		}
		g.Nodes = append(g.Nodes, n)
		names[l.Name()] = name
	}
	return nil
}

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Consumers returns the nodes that take name as an input, in order.
func (g *Graph) Consumers(name string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inbound {
			if in == name {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// IsOutput reports whether name is one of the model's outputs.
func (g *Graph) IsOutput(name string) bool {
	for _, o := range g.Outputs {
		if o == name {
			return true
		}
	}
	return false
}

// Taken reports whether name is used by an input or a node.
func (g *Graph) Taken(name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return g.Node(name) != nil
}

// FreshName returns base, or base_1, base_2, ... whichever is not taken.
func (g *Graph) FreshName(base string) string {
	name := base
	for i := 1; g.Taken(name); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// Rewire makes every consumer and output of from use to instead.
func (g *Graph) Rewire(from, to string) {
	for _, n := range g.Nodes {
		for i, in := range n.Inbound {
			if in == from {
				n.Inbound[i] = to
			}
		}
	}
	for i, o := range g.Outputs {
		if o == from {
			g.Outputs[i] = to
		}
	}
}

// Replace removes the nodes named in old (a chain, in order: each feeds
// only the next) and puts the nodes of repl at the place of the first;
// consumers and outputs of the last old node are rewired to the last new
// node. The caller sets repl's names and inbound.
func (g *Graph) Replace(old []string, repl ...*Node) {
	drop := map[string]bool{}
	for _, n := range old {
		drop[n] = true
	}
	var nodes []*Node
	done := false
	for _, n := range g.Nodes {
		if drop[n.Name] {
			if !done {
				nodes = append(nodes, repl...)
				done = true
			}
			continue
		}
		nodes = append(nodes, n)
	}
	g.Nodes = nodes
	if last, to := old[len(old)-1], repl[len(repl)-1].Name; last != to {
		g.Rewire(last, to)
	}
}

// Insert puts node n right before the node named before (at the end if
// there is none).
func (g *Graph) Insert(before string, n *Node) {
	for i, x := range g.Nodes {
		if x.Name == before {
			g.Nodes = append(g.Nodes[:i], append([]*Node{n}, g.Nodes[i:]...)...)
			return
		}
	}
	g.Nodes = append(g.Nodes, n)
}

// Build makes a new model from the graph: each node's layer (Node.Layer or
// a new layer of Type and Config), called in order, then the Weights
// copied into the built parameters. A Sequential graph that is still a
// chain gives a Sequential model.
func (g *Graph) Build() (*nn.Model, error) {
	layers := make([]nn.Layer, len(g.Nodes))
	chain := len(g.Inputs) == 1 && len(g.Outputs) == 1 && len(g.Nodes) > 0
	prev := ""
	if chain {
		prev = g.Inputs[0].Name
	}
	for i, n := range g.Nodes {
		l := n.Layer
		if l == nil {
			var err error
			if l, err = nn.NewLayer(n.Type, n.Name, n.Config); err != nil {
				return nil, fmt.Errorf("layer %q: %w", n.Name, err)
			}
		}
		l.SetName(n.Name)
		layers[i] = l
		if chain && (len(n.Inbound) != 1 || n.Inbound[0] != prev) {
			chain = false
		}
		prev = n.Name
	}
	var m *nn.Model
	var err error
	if g.Sequential && chain && g.Outputs[0] == prev {
		m, err = nn.NewSequential(g.Inputs[0].Shape, layers...)
	} else {
		m, err = g.buildFunctional(layers)
	}
	if err != nil {
		return nil, err
	}
	m.SetName(g.Name)
	for _, n := range g.Nodes {
		l := m.Layer(n.Name)
		byName := map[string]*nn.Param{}
		for _, p := range l.Params() {
			byName[p.Name] = p
		}
		for name, w := range n.Weights {
			p := byName[name]
			if p == nil {
				return nil, fmt.Errorf("layer %q (%s) has no parameter %q to load", n.Name, l.Type(), name)
			}
			if !p.Value.Shape.Equal(w.Shape) {
				return nil, fmt.Errorf("layer %q parameter %q: shape %v, want %v", n.Name, name, w.Shape, p.Value.Shape)
			}
			copy(p.Value.Data, w.Data)
		}
	}
	return m, nil
}

// buildFunctional calls the layers on the graph's inputs and returns the
// Functional model.
func (g *Graph) buildFunctional(layers []nn.Layer) (*nn.Model, error) {
	syms := map[string]*nn.Node{}
	var inputs []*nn.Node
	for _, in := range g.Inputs {
		x := nn.InputNamed(in.Name, in.Shape...)
		syms[in.Name] = x
		inputs = append(inputs, x)
	}
	for i, n := range g.Nodes {
		var ins []*nn.Node
		for _, name := range n.Inbound {
			x := syms[name]
			if x == nil {
				return nil, fmt.Errorf("layer %q: inbound %q is not defined before it", n.Name, name)
			}
			ins = append(ins, x)
		}
		y := nn.Call(layers[i], ins...)
		if err := y.Err(); err != nil {
			return nil, err
		}
		syms[n.Name] = y
	}
	var outputs []*nn.Node
	for _, name := range g.Outputs {
		y := syms[name]
		if y == nil {
			return nil, fmt.Errorf("output %q is not defined", name)
		}
		outputs = append(outputs, y)
	}
	return nn.NewModel(inputs, outputs)
}
