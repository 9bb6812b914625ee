package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

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
	gradAdd   gradSum          // addGrad's sums (exec.go)
	forwarded bool
	inferCtx  Context
	infer     inferState // the float inference plan (infer.go)

	res *bounds.Plan // the resource plan, made on first use (resources)

	stepCount int // optimizer steps taken (Context.Step)
	train     trainState

	frozen  bool        // SetTrainable(false): inference mode when nested
	asLayer *ModelLayer // the model as a layer (AsLayer)
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

// newModel builds the model computing outputs from inputs: it checks and
// names the graph (graphLayers, nameGraph), lays out the execution plan
// (plan) and initializes the weights not initialized yet.
func newModel(inputs, outputs []*Node, sequential bool) (*Model, error) {
	layerNodes, err := graphLayers(inputs, outputs)
	if err != nil {
		return nil, err
	}
	if err := nameGraph(inputs, layerNodes); err != nil {
		return nil, err
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
	m.plan(layerNodes)
	m.params = m.collectParams()
	m.initWeights(0, true)
	m.link()
	return m, nil
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

func (m *Model) initWeights(seed uint64, onlyNew bool) { m.initLayers(seed, onlyNew, false) }

// initLayers is initWeights; with keepModels it leaves the models nested
// in composites as they are (a block built around a pretrained model: the
// model's construction pass initializes the block's other layers only).
func (m *Model) initLayers(seed uint64, onlyNew, keepModels bool) {
	for i, st := range m.steps {
		if onlyNew && st.node.inited {
			continue
		}
		if _, nested := st.layer.(*ModelLayer); nested && keepModels {
			continue
		}
		if c, ok := st.layer.(Composite); ok && c.Inner() != nil {
			// As composite.InitWeights, the construction pass keeping
			// nested models.
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			c.Inner().initLayers(r.Uint64(), false, onlyNew || keepModels)
		} else if ini, ok := st.layer.(Initializer); ok {
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

// Layer returns the layer with the given name, or nil. A sub-layer of a
// Composite is named by its path: "backbone/conv2d".
func (m *Model) Layer(name string) Layer {
	if l, ok := m.byName[name]; ok || !strings.Contains(name, "/") {
		return l
	}
	head, rest, _ := strings.Cut(name, "/")
	if c, ok := m.byName[head].(Composite); ok && c.Inner() != nil {
		return c.Inner().Layer(rest)
	}
	return nil
}

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
