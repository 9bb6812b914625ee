package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// ModelMetadataKey is the safetensors metadata key holding a model's
// architecture as JSON.
const ModelMetadataKey = "goqat.model"

// Architecture format and version written by Save.
const (
	modelFormat  = "goqat.model"
	modelVersion = 1
)

// archModel is the architecture JSON: inputs by name and shape, layers in
// topological order with their config and inbound names (an input's name or
// an earlier layer's), and the names of the outputs.
type archModel struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Kind    string      `json:"kind"`
	Name    string      `json:"name"`
	Inputs  []archInput `json:"inputs"`
	Layers  []archLayer `json:"layers"`
	Outputs []string    `json:"outputs"`
}

type archInput struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type archLayer struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Config  json.RawMessage `json:"config"`
	Inbound []string        `json:"inbound"`
}

// Save writes m to path as a safetensors file (atomically): the
// architecture as JSON in the metadata under "goqat.model", and every
// parameter as an F32 tensor named "<layer>/<param>" ("conv2d/kernel",
// "batch_normalization/moving_mean").
func Save(path string, m *Model) error {
	f, err := ToSafetensors(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return safetensors.WriteFile(path, f)
}

// Load reads a model written by Save and returns it ready to use (not
// compiled). Custom layer types must be Register'ed first. Errors are one
// line naming the file.
func Load(path string) (*Model, error) {
	f, err := safetensors.ReadFile(path, safetensors.Limits{})
	if err != nil {
		return nil, err
	}
	m, err := FromSafetensors(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ToSafetensors returns m as a safetensors File, as Save writes it. Other
// packages (QAT, conversion) may add their own metadata and tensors.
func ToSafetensors(m *Model) (*safetensors.File, error) {
	if m == nil {
		return nil, errors.New("nil model")
	}
	a, err := archOf(m)
	if err != nil {
		return nil, err
	}
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
	for _, l := range m.layers {
		names := paramNames(l)
		for i, p := range l.Params() {
			key := l.Name() + "/" + names[i]
			if _, dup := f.Tensors[key]; dup {
				return nil, fmt.Errorf("layer %s: two weights are saved as %q", describe(l), key)
			}
			f.Tensors[key] = safetensors.F32(p.Value.Shape, p.Value.Data)
		}
	}
	js, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	f.Metadata = map[string]string{ModelMetadataKey: string(js)}
	return f, nil
}

// archOf returns m's architecture as Save records it (no weights).
func archOf(m *Model) (*archModel, error) {
	a := &archModel{Format: modelFormat, Version: modelVersion, Kind: "functional", Name: m.name, Outputs: m.OutputNames()}
	if m.sequential {
		a.Kind = "sequential"
	}
	for _, x := range m.inputs {
		a.Inputs = append(a.Inputs, archInput{Name: x.name, Shape: x.shape.Clone()})
	}
	registered := map[string]bool{}
	for _, t := range RegisteredTypes() {
		registered[t] = true
	}
	for _, st := range m.steps {
		l := st.layer
		if !registered[l.Type()] {
			return nil, fmt.Errorf("layer %s: type %q is not registered (call nn.Register so that the model can be loaded)", describe(l), l.Type())
		}
		if ml, ok := l.(*ModelLayer); ok && ml.inner != nil {
			// A nested model's Config is its architecture: its own
			// errors (an unregistered layer) are reported here.
			if _, err := archOf(ml.inner); err != nil {
				return nil, fmt.Errorf("layer %s: %w", describe(l), err)
			}
		}
		cfg, err := json.Marshal(l.Config())
		if err != nil {
			return nil, fmt.Errorf("layer %s: config: %w", describe(l), err)
		}
		al := archLayer{Name: l.Name(), Type: l.Type(), Config: cfg}
		for _, p := range st.node.inbound {
			al.Inbound = append(al.Inbound, nodeName(p))
		}
		a.Layers = append(a.Layers, al)
	}
	return a, nil
}

// FromSafetensors builds a model from a File written by ToSafetensors. It
// validates the architecture (format, version, no unknown fields, unique
// names, every inbound an input or an earlier layer, registered layer
// types with valid configs) and the weights (every parameter present as
// F32 with its exact shape, no extra tensors), then copies the weights.
func FromSafetensors(f *safetensors.File) (*Model, error) {
	if f == nil {
		return nil, errors.New("nil safetensors File")
	}
	raw, ok := f.Metadata[ModelMetadataKey]
	if !ok {
		return nil, fmt.Errorf("not a goqat model: no %q metadata", ModelMetadataKey)
	}
	var a archModel
	if err := decodeArch([]byte(raw), &a); err != nil {
		return nil, err
	}
	// The parameter budget: every parameter is a tensor of the file.
	budget := int64(1 << 20)
	for _, t := range f.Tensors {
		budget = addCap(budget, mulCap(3, int64(len(t.Data)/4)))
	}
	m, err := buildArch(&a, &budget)
	if err != nil {
		return nil, err
	}
	// The work and memory the model would take, before it runs
	// (docs/RELIABILITY.md, Resource bounds).
	if err := m.CheckBounds(); err != nil {
		return nil, err
	}
	used := 0
	for _, l := range m.layers {
		names := paramNames(l)
		for i, p := range l.Params() {
			key := l.Name() + "/" + names[i]
			t, ok := f.Tensors[key]
			if !ok {
				return nil, fmt.Errorf("missing weight %q", key)
			}
			if t.DType != "F32" {
				return nil, fmt.Errorf("weight %q has dtype %s, want F32", key, t.DType)
			}
			if !tensor.Shape(t.Shape).Equal(p.Value.Shape) {
				return nil, fmt.Errorf("weight %q has shape %s, want %s", key, tensor.Shape(t.Shape), p.Value.Shape)
			}
			v, err := t.AsF32()
			if err != nil {
				return nil, fmt.Errorf("weight %q: %v", key, err)
			}
			copy(p.Value.Data, v)
			used++
		}
	}
	if used != len(f.Tensors) {
		for name := range f.Tensors {
			if !isWeight(m, name) {
				return nil, fmt.Errorf("unexpected tensor %q (not a weight of the model)", name)
			}
		}
	}
	return m, nil
}

// isWeight reports whether name is "<layer>/<param>" of one of m's layers.
func isWeight(m *Model, name string) bool {
	for _, l := range m.layers {
		for _, n := range paramNames(l) {
			if l.Name()+"/"+n == name {
				return true
			}
		}
	}
	return false
}

// decodeArch decodes an architecture JSON strictly (no unknown fields,
// nothing after the object) into a.
func decodeArch(raw []byte, a *archModel) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(a); err != nil {
		return fmt.Errorf("model architecture: %v", err)
	}
	if dec.More() {
		return errors.New("model architecture: data after the JSON object")
	}
	return nil
}

// buildArch builds the model of an architecture, its weights initialized
// but not loaded. It validates the format, version, names, the order of
// the inbound tensors and the layer types and configs; every layer's
// parameters (ParamCountOf) are taken from *budget, refused beyond it.
func buildArch(a *archModel, budget *int64) (*Model, error) {
	if a.Format != modelFormat {
		return nil, fmt.Errorf("model architecture: format %q, want %q", a.Format, modelFormat)
	}
	if a.Version != modelVersion {
		return nil, fmt.Errorf("model architecture: unsupported version %d (this goqat reads version %d)", a.Version, modelVersion)
	}
	if a.Kind != "sequential" && a.Kind != "functional" {
		return nil, fmt.Errorf("model architecture: kind %q, want \"sequential\" or \"functional\"", a.Kind)
	}
	if len(a.Inputs) == 0 || len(a.Outputs) == 0 {
		return nil, errors.New("model architecture: the model needs at least one input and one output")
	}
	nodes := map[string]*Node{}
	var inputs []*Node
	for i, in := range a.Inputs {
		if in.Name == "" {
			return nil, fmt.Errorf("model architecture: input %d has no name", i)
		}
		if nodes[in.Name] != nil {
			return nil, fmt.Errorf("model architecture: duplicate name %q", in.Name)
		}
		x := InputNamed(in.Name, in.Shape...)
		if x.err != nil {
			return nil, fmt.Errorf("model architecture: input %q: %v", in.Name, x.err)
		}
		nodes[in.Name] = x
		inputs = append(inputs, x)
	}
	declared := map[string]bool{}
	for _, l := range a.Layers {
		declared[l.Name] = true
	}
	for i, al := range a.Layers {
		if al.Name == "" {
			return nil, fmt.Errorf("model architecture: layer %d has no name", i)
		}
		if nodes[al.Name] != nil {
			return nil, fmt.Errorf("model architecture: duplicate name %q", al.Name)
		}
		if len(al.Inbound) == 0 {
			return nil, fmt.Errorf("layer %q: no inbound tensors", al.Name)
		}
		var in []*Node
		for _, name := range al.Inbound {
			x := nodes[name]
			if x == nil {
				if declared[name] {
					return nil, fmt.Errorf("layer %q: inbound %q is defined after it (the graph has a cycle or is out of order)", al.Name, name)
				}
				return nil, fmt.Errorf("layer %q: inbound %q is neither an input nor a layer", al.Name, name)
			}
			in = append(in, x)
		}
		ctor, err := lookup(al.Type)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %v", al.Name, err)
		}
		l, err := ctor(al.Name, al.Config)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %v", al.Name, err)
		}
		if l.Type() != al.Type {
			return nil, fmt.Errorf("layer %q: the constructor of type %q made a layer of type %q", al.Name, al.Type, l.Type())
		}
		l.SetName(al.Name)
		// Refuse, before Build allocates them, parameters beyond what the
		// file can hold (with room for layers that keep internal copies).
		shapes := make([]tensor.Shape, len(in))
		for i, x := range in {
			shapes[i] = x.shape
		}
		if n := ParamCountOf(l, shapes); n > *budget {
			return nil, fmt.Errorf("layer %q: its configuration needs %d parameter values, more than the file can hold", al.Name, n)
		} else if n > 0 {
			*budget -= n
		}
		if ml, ok := l.(*ModelLayer); ok {
			ml.budget = budget // a nested model's layers draw on the same budget
		}
		y := Call(l, in...)
		if y.err != nil {
			return nil, fmt.Errorf("layer %q: %v", al.Name, y.err)
		}
		nodes[al.Name] = y
	}
	var outputs []*Node
	for _, name := range a.Outputs {
		y := nodes[name]
		if y == nil {
			return nil, fmt.Errorf("model architecture: output %q is neither an input nor a layer", name)
		}
		outputs = append(outputs, y)
	}
	sequential := a.Kind == "sequential"
	if sequential {
		if len(inputs) != 1 || len(outputs) != 1 || len(a.Layers) == 0 || a.Outputs[0] != a.Layers[len(a.Layers)-1].Name {
			return nil, errors.New("model architecture: a sequential model must be one chain from one input to its last layer")
		}
		prev := a.Inputs[0].Name
		for _, al := range a.Layers {
			if len(al.Inbound) != 1 || al.Inbound[0] != prev {
				return nil, fmt.Errorf("model architecture: sequential layer %q must take %q as its only input", al.Name, prev)
			}
			prev = al.Name
		}
	}
	m, err := newModel(inputs, outputs, sequential)
	if err != nil {
		return nil, fmt.Errorf("model architecture: %v", err)
	}
	m.name = a.Name
	if len(m.layers) != len(a.Layers) {
		return nil, fmt.Errorf("model architecture: %d of %d layers do not lead to an output", len(a.Layers)-len(m.layers), len(a.Layers))
	}
	return m, nil
}
