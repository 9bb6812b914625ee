package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

// Composite is a layer made of other layers (docs/DESIGN.md, Subclassed and
// nested models): a model used as a layer (Model.AsLayer) or a user-defined
// block, a type that embeds Block and writes its forward pass as layer
// calls (Define). Its sub-layers form a small model of their own, Inner,
// which computes the layer: Forward and Backward run it, Params are its
// parameters (the same *Param values), and a model's file names each of
// them "<layer>/<sub-layer>/<param>". Summary lists the sub-layers under
// the layer, and package quantize quantizes them as if they were written
// inline (it flattens composites).
type Composite interface {
	Layer
	// Inner returns the model of the sub-layers; nil before Build.
	Inner() *Model
}

// Sublayers returns the sub-layers of a built Composite in topological
// order, nil for any other layer.
func Sublayers(l Layer) []Layer {
	if c, ok := l.(Composite); ok && c.Inner() != nil {
		return c.Inner().Layers()
	}
	return nil
}

// composite is the machinery ModelLayer and Block share: the inner model,
// run as a layer.
type composite struct {
	inner *Model
	ctx   Context // the context of a frozen model's training pass
	err   error   // the last pass's error, reported by the outer model
}

// Inner returns the model of the sub-layers; nil before Build.
func (k *composite) Inner() *Model { return k.inner }

// layerError reports the error of the last Forward or Backward.
func (k *composite) layerError() error { return k.err }

// Forward runs the inner model. In a training pass a frozen inner model
// (Model.SetTrainable(false)) runs in inference mode: its
// BatchNormalizations use and keep their moving statistics, its dropout is
// off. In inference the inner model uses its inference plan when it can.
func (k *composite) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	m := k.inner
	k.err = nil
	if m == nil {
		k.err = errors.New("nn: composite layer used before Build")
		return nil
	}
	if c == nil {
		c = &Context{Step: m.stepCount}
	}
	var outs []*tensor.Tensor
	var err error
	if c.Training {
		if m.frozen {
			k.ctx = *c
			k.ctx.Training = false
			c = &k.ctx
		}
		if err = m.checkInputs(in); err == nil {
			m.infer.replay = false
			outs, err = m.forwardLayers(c, in)
		}
	} else {
		outs, err = m.Forward(c, in...)
	}
	if err != nil {
		k.err = fmt.Errorf("in %q: %w", m.name, err)
		return nil
	}
	return outs[0]
}

// Backward runs the inner model's backward pass and returns the gradients
// with respect to its inputs.
func (k *composite) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	m := k.inner
	k.err = nil
	if m == nil {
		k.err = errors.New("nn: composite layer used before Build")
		return nil
	}
	if c != nil && c.Training && m.frozen {
		k.ctx = *c
		k.ctx.Training = false
		c = &k.ctx
	}
	d, err := m.backward(c, []*tensor.Tensor{dOut}, true)
	if err != nil {
		k.err = fmt.Errorf("in %q: %w", m.name, err)
		return nil
	}
	return d
}

// Params returns the inner model's parameters (the same values).
func (k *composite) Params() []*Param {
	if k.inner == nil {
		return nil
	}
	return k.inner.collectParams()
}

// InitWeights re-initializes the inner model's weights from a seed drawn
// from r (Model.InitWeights).
func (k *composite) InitWeights(r *rand.Rand) {
	if k.inner != nil {
		k.inner.InitWeights(r.Uint64())
	}
}

// Cost sums the inference Cost of the inner model's layers (their
// parameters are counted by the outer model from Params).
func (k *composite) Cost(in []tensor.Shape, out tensor.Shape) Cost {
	var c Cost
	if k.inner == nil {
		return Cost{Work: -1}
	}
	for _, st := range k.inner.steps {
		ins := make([]tensor.Shape, len(st.node.inbound))
		for i, x := range st.node.inbound {
			ins[i] = x.shape
		}
		s := CostOf(st.layer, ins, st.node.shape)
		if _, pool := st.layer.(*MaxPooling2D); (st.fused && !pool) || st.pool != nil {
			s.Bytes = 0 // as planResources
		}
		c.Work = bounds.SatAdd(c.Work, s.Work)
		c.Bytes = bounds.SatAdd(c.Bytes, s.Bytes)
		c.Fixed = bounds.SatAdd(c.Fixed, s.Fixed, layerOverhead)
		c.Scratch = append(c.Scratch, s.Scratch...)
	}
	return c
}

// layerErr returns the error a layer recorded for its last pass, if it
// records them (composites do).
func layerErr(l Layer) error {
	if e, ok := l.(interface{ layerError() error }); ok {
		return e.layerError()
	}
	return nil
}

// anyTrainable reports whether one of ps is trainable.
func anyTrainable(ps []*Param) bool {
	for _, p := range ps {
		if p.Trainable {
			return true
		}
	}
	return false
}

// paramNames returns the names of l's parameters within l, in Params
// order: Param.Name, and for a Composite "<sub-layer>/<name>" (nested
// composites add a level each). Files and checkpoints key a parameter
// "<layer>/<name>".
func paramNames(l Layer) []string {
	if c, ok := l.(Composite); ok && c.Inner() != nil {
		var out []string
		for _, s := range c.Inner().layers {
			for _, n := range paramNames(s) {
				out = append(out, s.Name()+"/"+n)
			}
		}
		return out
	}
	ps := l.Params()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// SetTrainable freezes (false) or unfreezes (true) a layer: the
// parameters it trains (those with a gradient: not BatchNormalization's
// moving statistics) get Trainable set, so that the optimizer leaves them
// alone. A Composite's inner model is frozen as a whole
// (Model.SetTrainable). Freezing a single BatchNormalization layer this
// way keeps its training-mode statistics; freeze a sub-model to run it in
// inference mode, as Keras does.
func SetTrainable(l Layer, trainable bool) {
	if c, ok := l.(Composite); ok && c.Inner() != nil {
		c.Inner().SetTrainable(trainable)
		return
	}
	for _, p := range l.Params() {
		if p.Grad != nil {
			p.Trainable = trainable
		}
	}
}

// SetTrainable freezes (false) or unfreezes (true) every layer of m
// (SetTrainable on each). A frozen model used as a layer of another
// (AsLayer, or the inner model of a Block) runs in inference mode even when
// the outer model trains (Keras's trainable = False): its
// BatchNormalizations use and keep their moving statistics, so that none
// of its values moves; and when it reads only the outer model's inputs its
// backward pass is skipped.
func (m *Model) SetTrainable(trainable bool) {
	m.frozen = !trainable
	for _, l := range m.layers {
		SetTrainable(l, trainable)
	}
}

// Trainable reports whether m is not frozen by SetTrainable(false).
func (m *Model) Trainable() bool { return !m.frozen }

// Block is embedded by a user-defined composite layer, Go's form of a
// Keras subclassed layer or model (docs/DESIGN.md, Subclassed and nested
// models). The user's type holds its sub-layers as fields, embeds Block
// (which gives it Name, Build, Forward, Backward, Params and the rest) and
// writes three methods:
//
//	func (b *MyBlock) Type() string                  // registered type name
//	func (b *MyBlock) Config() any                   // its hyper-parameters
//	func (b *MyBlock) Define(in ...*nn.Node) *nn.Node // the forward pass
//
// Define is the forward pass written as layer calls (nn.Call) on the
// fields, in Go code (loops and conditions on the config are fine). Call
// runs it once, when the block is built, to make the block's inner model;
// backward passes come from that graph. Every sub-layer is used once.
// Register the type (nn.Register, with a constructor that makes the
// sub-layers from the config) so that models holding it load.
type Block struct {
	Base
	composite
	self definer
}

// definer is a type embedding Block with its Define method.
type definer interface {
	Layer
	Define(in ...*Node) *Node
	blockOf() *Block
}

func (b *Block) blockOf() *Block { return b }

// Build runs the block's Define on inputs of the given shapes and makes
// its inner model. The block must be called through nn.Call (which tells
// Block the type that embeds it).
func (b *Block) Build(in []tensor.Shape) (tensor.Shape, error) {
	if b.self == nil {
		return nil, errors.New("nn: a Block is built by nn.Call (or a model), not by Build directly")
	}
	if b.inner != nil {
		return nil, errors.New("nn: block is already built")
	}
	xs := make([]*Node, len(in))
	for i, s := range in {
		xs[i] = Input(s...)
	}
	y := b.self.Define(xs...)
	if y == nil {
		return nil, errors.New("Define returned no output")
	}
	m, err := newModel(xs, []*Node{y}, false)
	if err != nil {
		return nil, err
	}
	m.name = b.Name()
	b.inner = m
	return y.shape.Clone(), nil
}
