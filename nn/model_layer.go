package nn

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/goqat/goqat/tensor"
)

// ModelLayer is a model used as a layer of another model (docs/DESIGN.md,
// Subclassed and nested models): Keras's nesting of a model in a model.
// Model.AsLayer returns it. The outer model trains the nested model's
// weights in place (they are the same *Param values), and a nested model
// frozen with SetTrainable(false) runs in inference mode and keeps its
// weights. Its type is "Sequential" or "Functional", its name the model's,
// and its saved config the model's architecture; its weights are saved
// under "<model>/<layer>/<param>". The nested model must have one output.
type ModelLayer struct {
	composite
	name   string     // the name before the model is made (loading)
	arch   *archModel // the architecture to build (loading), else nil
	budget *int64     // the loading file's parameter budget, if any
	called bool       // used in a graph (Call)
}

func init() {
	for _, typ := range []string{"Sequential", "Functional"} {
		Register(typ, func(name string, cfg json.RawMessage) (Layer, error) {
			var a archModel
			if err := decodeArch(cfg, &a); err != nil {
				return nil, err
			}
			return &ModelLayer{name: name, arch: &a}, nil
		})
	}
}

// AsLayer returns m as a layer, to call in another model (Call, or a layer
// of NewSequential). It returns the same layer every time: like any layer,
// a model can be used once in a graph. Building the outer model keeps m's
// weights; the outer model's InitWeights re-initializes them with the
// rest. A model named "model" or "sequential" (the defaults) is renamed
// uniquely in the outer model, as unnamed layers are.
func (m *Model) AsLayer() *ModelLayer {
	if m.asLayer == nil {
		m.asLayer = &ModelLayer{composite: composite{inner: m}}
	}
	return m.asLayer
}

// Name returns the nested model's name.
func (l *ModelLayer) Name() string {
	if l.inner != nil {
		return l.inner.name
	}
	return l.name
}

// SetName renames the nested model.
func (l *ModelLayer) SetName(name string) {
	l.name = name
	if l.inner != nil {
		l.inner.name = name
	}
}

// Type returns "Sequential" or "Functional", the nested model's kind.
func (l *ModelLayer) Type() string {
	if l.inner != nil && l.inner.sequential || l.inner == nil && l.arch != nil && l.arch.Kind == "sequential" {
		return "Sequential"
	}
	return "Functional"
}

// Config returns the nested model's architecture (as Save records it,
// without weights).
func (l *ModelLayer) Config() any {
	if l.inner == nil {
		return l.arch
	}
	a, err := archOf(l.inner)
	if err != nil {
		return nil
	}
	return a
}

// Build checks that the input shapes are the nested model's (a model read
// from a file is made here) and returns its output shape.
func (l *ModelLayer) Build(in []tensor.Shape) (tensor.Shape, error) {
	if l.inner == nil {
		if l.arch == nil {
			return nil, errors.New("nn: ModelLayer has no model (use Model.AsLayer)")
		}
		budget := int64(1 << 62)
		if l.budget != nil {
			budget = *l.budget
		}
		m, err := buildArch(l.arch, &budget)
		if err != nil {
			return nil, err
		}
		if l.budget != nil {
			*l.budget = budget
		}
		m.asLayer = l
		l.inner, l.arch = m, nil
		l.inner.name = l.name
	}
	m := l.inner
	if len(m.outputs) != 1 {
		return nil, fmt.Errorf("a model with %d outputs cannot be a layer (one output)", len(m.outputs))
	}
	if len(in) != len(m.inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, got %d", m.name, len(m.inputs), len(in))
	}
	for i, s := range in {
		if !s.Equal(m.inputs[i].shape) {
			return nil, fmt.Errorf("input %d has shape %s, model %q takes %s", i, noneShape(s), m.name, noneShape(m.inputs[i].shape))
		}
	}
	return m.outputs[0].shape.Clone(), nil
}

// ParamCount implements ParamCounter: the nested model's parameter values
// (-1 before it is made).
func (l *ModelLayer) ParamCount([]tensor.Shape) int64 {
	if l.inner == nil {
		return -1
	}
	n := int64(0)
	for _, p := range l.inner.collectParams() {
		n += int64(len(p.Value.Data))
	}
	return n
}
