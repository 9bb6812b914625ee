// Package nn is goqat's Keras-style training engine: layers with their
// forward and backward passes side by side, Sequential and Functional (DAG)
// models, custom layers through the Layer interface, Fit, Evaluate, Predict,
// Summary, and save/load as safetensors.
//
// Layers made of layers (docs/DESIGN.md, Subclassed and nested models): a
// user type that holds its sub-layers as fields, embeds Block and writes
// its forward pass as layer calls in Define is Go's form of a Keras
// subclassed layer or model; Model.AsLayer nests a model in another (a
// pretrained backbone, frozen with SetTrainable(false)). Both are
// Composites: they train, save and load, show their sub-layers in Summary,
// and package quantize quantizes their sub-layers as if written inline.
//
// Tensors are NHWC. A layer sees whole batches: the first dimension of every
// tensor it is given is the batch. Shapes passed to Build leave the batch out.
package nn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/goqat/goqat/tensor"
)

// Layer is one step of a model. Built-in layers and user-defined (custom)
// layers implement it alike, and both work in Sequential and Functional
// models, in Fit, in Summary and in save/load (after Register).
//
// The life of a layer: Build once with its input shapes; then, per batch,
// Forward, and when training Backward with the gradient of the loss with
// respect to the output. A layer keeps what its Backward needs from the last
// Forward, so one layer instance appears at most once in a model.
type Layer interface {
	// Name is the layer's unique name within its model ("conv2d_1").
	Name() string
	// SetName renames the layer; models call it to give unnamed layers a
	// Keras-style name.
	SetName(name string)
	// Type is the layer's kind as saved in files and shown by Summary
	// ("Conv2D"). Custom layers return the name they Register under.
	Type() string
	// Build checks the input shapes (batch dimension left out), creates the
	// weights, and returns the output shape (batch left out).
	Build(in []tensor.Shape) (tensor.Shape, error)
	// Forward computes the output for a batch. It must not modify its
	// inputs, which stay valid until the following Backward. The returned
	// tensor is owned by the layer, read-only to the caller, and valid until
	// the layer's next Forward.
	Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor
	// Backward takes dL/dout for the last Forward, sets Param.Grad of every
	// trainable parameter to dL/dparam (overwriting, not accumulating), and
	// returns dL/din, one per input, owned by the layer, read-only to the
	// caller (it may alias dOut), and valid until the layer's next Backward.
	Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor
	// Params lists the layer's weights and state (BN moving statistics are
	// Params with Trainable false). Nil before Build.
	Params() []*Param
	// Config returns the layer's hyper-parameters as a JSON-encodable value;
	// the Register'ed constructor for Type() must accept its encoding.
	Config() any
}

// Param is a named weight or state tensor of a layer.
type Param struct {
	// Name is the parameter's short name within its layer ("kernel",
	// "bias", "gamma", "moving_mean").
	Name string
	// Value holds the weights.
	Value *tensor.Tensor
	// Grad holds dL/dValue after Backward (same shape as Value); nil for
	// non-trainable state.
	Grad *tensor.Tensor
	// Trainable is true for parameters the optimizer updates.
	Trainable bool
}

// NewParam returns a parameter with a zeroed value of the given shape and,
// if trainable, a zeroed gradient of the same shape.
func NewParam(name string, trainable bool, shape ...int) *Param {
	p := &Param{Name: name, Value: tensor.New(shape...), Trainable: trainable}
	if trainable {
		p.Grad = tensor.New(shape...)
	}
	return p
}

// Context carries what a pass needs beyond its tensors.
type Context struct {
	// Training selects training behaviour: batch statistics in
	// BatchNormalization, dropout active.
	Training bool
	// Rand is the pass's random source (dropout). Fit seeds it from its seed
	// so that runs are reproducible bit for bit.
	Rand *rand.Rand
	// Step counts optimizer steps taken so far (0-based), for layers whose
	// behaviour changes during training (BN freezing in QAT).
	Step int

	// lane is the block of a step with synchronized BatchNorm (SyncsBlocks).
	lane *blockLane
}

// Base gives a layer its name. Built-in and custom layers embed it.
type Base struct {
	LayerName string
}

// Name returns the layer's name.
func (b *Base) Name() string { return b.LayerName }

// SetName renames the layer.
func (b *Base) SetName(name string) { b.LayerName = name }

// Initializer is implemented by layers with weights: models call
// InitWeights after Build, with a source derived from the model's seed, to
// set Keras's default initial values (Glorot uniform kernels, zero biases,
// BN gamma 1 and beta 0, moving variance 1).
type Initializer interface {
	InitWeights(r *rand.Rand)
}

// Constructor builds a layer of a registered type from its saved name and
// JSON config. The layer is not built yet; the model calls Build.
type Constructor func(name string, config json.RawMessage) (Layer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Constructor{}
)

// Register makes a layer type loadable from saved models. Built-in layers
// register themselves; a custom layer registers its Type() once (typically in
// an init function) before Load is called. Registering a type twice panics,
// as it is a programming error.
func Register(typ string, c Constructor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("nn: layer type registered twice: " + typ)
	}
	registry[typ] = c
}

// lookup returns the constructor of a registered type.
func lookup(typ string) (Constructor, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	c, ok := registry[typ]
	if !ok {
		return nil, fmt.Errorf("unknown layer type %q (custom layers must call nn.Register before loading)", typ)
	}
	return c, nil
}

// RegisteredTypes lists the registered layer types, sorted.
func RegisteredTypes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// decodeConfig unmarshals a saved layer config strictly (unknown fields are an
// error) into v. Built-in constructors use it.
func decodeConfig(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// NewLayer constructs a layer of a registered type from its name and JSON
// config, as Load does. Wrapper layers (such as quantize's) use it to rebuild
// the layer they wrap.
func NewLayer(typ, name string, config json.RawMessage) (Layer, error) {
	c, err := lookup(typ)
	if err != nil {
		return nil, err
	}
	return c(name, config)
}
