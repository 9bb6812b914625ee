package nn

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// SimpleRNN is Keras's SimpleRNN layer with its default activation (tanh):
// in (N, T, F), out (N, T, Units) with ReturnSequences, else (N, Units).
// Per step:
//
//	h_t = tanh(x_t W + h_{t-1} Ur + b)    W (F, U), Ur (U, U), b (U)
//
// with a zero initial state. Initialisation is Keras's: Glorot uniform
// kernel, orthogonal recurrent kernel, zero bias. See recurrent.go for
// masking, GoBackwards and the batched input projection.
type SimpleRNN struct {
	Base
	RecurrentOptions
	// Kernel is W (F, U), RecurrentKernel Ur (U, U), Bias b (U), nil
	// without UseBias. All nil before Build.
	Kernel, RecurrentKernel, Bias *Param

	core recurrent
	dxs  [1]*tensor.Tensor
}

// NewSimpleRNN returns a SimpleRNN of the given units with a bias,
// returning the last step's output.
func NewSimpleRNN(units int) *SimpleRNN {
	return &SimpleRNN{RecurrentOptions: RecurrentOptions{Units: units, UseBias: true}}
}

func init() {
	Register("SimpleRNN", func(name string, raw json.RawMessage) (Layer, error) {
		o, err := decodeRecurrent("SimpleRNN", name, raw)
		if err != nil {
			return nil, err
		}
		l := &SimpleRNN{RecurrentOptions: o}
		l.SetName(name)
		return l, nil
	})
}

// Type returns "SimpleRNN".
func (l *SimpleRNN) Type() string { return "SimpleRNN" }

// Config returns the layer's RecurrentOptions.
func (l *SimpleRNN) Config() any { return l.RecurrentOptions }

// Params returns the kernel, the recurrent kernel and, with UseBias, the
// bias.
func (l *SimpleRNN) Params() []*Param { return l.core.params }

// ParamCount implements ParamCounter.
func (l *SimpleRNN) ParamCount(in []tensor.Shape) int64 {
	return recurrentParamCount(in, 1, l.Units, l.UseBias, false)
}

// Cost implements Coster.
func (l *SimpleRNN) Cost(_ []tensor.Shape, out tensor.Shape) Cost { return l.core.cost(out) }

// Build checks that the input is one (T, F) sequence and creates the
// weights; the output is (T, Units) or (Units).
func (l *SimpleRNN) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.core.build(recurrentLabel(l), &l.RecurrentOptions, rnnTanhCell{}, 1, false, false, in)
	if err != nil {
		return nil, err
	}
	l.Kernel, l.RecurrentKernel, l.Bias = l.core.kernel, l.core.recKernel, l.core.bias
	return out, nil
}

// InitWeights sets a Glorot uniform kernel, an orthogonal recurrent kernel
// and a zero bias, as Keras does.
func (l *SimpleRNN) InitWeights(r *rand.Rand) {
	k := &l.core
	glorotUniform(r, k.kernel.Value.Data, k.f, k.gu)
	orthogonal(r, k.recKernel.Value.Data, k.u, k.gu)
	if k.bias != nil {
		k.bias.Value.Zero()
	}
}

// Forward runs the sequence.
// x (N, T, F) -> (N, T, U) or (N, U)
func (l *SimpleRNN) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	return l.core.forward(in[0])
}

// Backward is backpropagation through time.
// dOut like Forward's output -> dx (N, T, F)
func (l *SimpleRNN) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	l.dxs[0] = l.core.backward(dOut)
	return l.dxs[:]
}

// rnnTanhCell is the SimpleRNN step: g becomes h_t itself.
type rnnTanhCell struct{}

func (rnnTanhCell) forward(k *recurrent, s, ti, lo, hi int) {
	t, u := k.t, k.u
	for n := lo; n < hi; n++ {
		a := k.g[(n*t+ti)*u : (n*t+ti+1)*u]
		h := k.hs[(n*t+s)*u : (n*t+s+1)*u]
		for j := range a {
			a[j] = tanh32(a[j])
			h[j] = a[j]
		}
	}
}

func (rnnTanhCell) backward(k *recurrent, s, ti, lo, hi int) {
	t, u := k.t, k.u
	for n := lo; n < hi; n++ {
		a := k.g[(n*t+ti)*u : (n*t+ti+1)*u]
		d := k.dg[(n*t+ti)*u : (n*t+ti+1)*u]
		dh := k.dh[n*u : (n+1)*u]
		for j, h := range a {
			d[j] = dh[j] * (1 - h*h)
			dh[j] = 0
		}
	}
}
