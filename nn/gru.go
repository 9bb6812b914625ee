package nn

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// GRU is Keras's GRU layer (Cho et al. 2014) in its default form,
// reset_after=True (the reset gate applied after the recurrent product, as
// cuDNN's), with its default activations: in (N, T, F), out (N, T, Units)
// with ReturnSequences, else (N, Units). Per step, with gates in Keras's
// order z (update), r (reset), h (candidate) along the last axis of the
// weights, and two biases, b_in = Bias[0] and b_rec = Bias[1]:
//
//	a = x_t W + b_in                  W (F, 3U), b_in (3U)
//	q = h_{t-1} Ur + b_rec            Ur (U, 3U), b_rec (3U)
//	z = sigmoid(a_z + q_z)  r = sigmoid(a_r + q_r)
//	n = tanh(a_h + r * q_h)
//	h_t = z * h_{t-1} + (1 - z) * n
//
// with a zero initial state. Initialisation is Keras's: Glorot uniform
// kernel, orthogonal recurrent kernel, zero biases. See recurrent.go for
// masking, GoBackwards and the batched input projection.
type GRU struct {
	Base
	RecurrentOptions
	// Kernel is W (F, 3U), RecurrentKernel Ur (U, 3U), Bias (2, 3U) (the
	// input bias, then the recurrent bias), nil without UseBias. All nil
	// before Build.
	Kernel, RecurrentKernel, Bias *Param

	core recurrent
	dxs  [1]*tensor.Tensor
}

// NewGRU returns a GRU of the given units with biases, returning the last
// step's output.
func NewGRU(units int) *GRU {
	return &GRU{RecurrentOptions: RecurrentOptions{Units: units, UseBias: true}}
}

func init() {
	Register("GRU", func(name string, raw json.RawMessage) (Layer, error) {
		o, err := decodeRecurrent("GRU", name, raw)
		if err != nil {
			return nil, err
		}
		l := &GRU{RecurrentOptions: o}
		l.SetName(name)
		return l, nil
	})
}

// Type returns "GRU".
func (l *GRU) Type() string { return "GRU" }

// Config returns the layer's RecurrentOptions.
func (l *GRU) Config() any { return l.RecurrentOptions }

// Params returns the kernel, the recurrent kernel and, with UseBias, the
// biases.
func (l *GRU) Params() []*Param { return l.core.params }

// ParamCount implements ParamCounter.
func (l *GRU) ParamCount(in []tensor.Shape) int64 {
	return recurrentParamCount(in, 3, l.Units, l.UseBias, true)
}

// Cost implements Coster.
func (l *GRU) Cost(_ []tensor.Shape, out tensor.Shape) Cost { return l.core.cost(out) }

// Build checks that the input is one (T, F) sequence and creates the
// weights; the output is (T, Units) or (Units).
func (l *GRU) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.core.build(recurrentLabel(l), &l.RecurrentOptions, gruCell{}, 3, true, false, in)
	if err != nil {
		return nil, err
	}
	l.Kernel, l.RecurrentKernel, l.Bias = l.core.kernel, l.core.recKernel, l.core.bias
	return out, nil
}

// InitWeights sets a Glorot uniform kernel, an orthogonal recurrent kernel
// and zero biases, as Keras does.
func (l *GRU) InitWeights(r *rand.Rand) {
	k := &l.core
	glorotUniform(r, k.kernel.Value.Data, k.f, k.gu)
	orthogonal(r, k.recKernel.Value.Data, k.u, k.gu)
	if k.bias != nil {
		k.bias.Value.Zero()
	}
}

// Forward runs the sequence.
// x (N, T, F) -> (N, T, U) or (N, U)
func (l *GRU) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	return l.core.forward(in[0])
}

// Backward is backpropagation through time.
// dOut like Forward's output -> dx (N, T, F)
func (l *GRU) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	l.dxs[0] = l.core.backward(dOut)
	return l.dxs[:]
}

// gruCell is the GRU step (see GRU). In g, the step's three blocks become
// z, r, n; rec keeps q = h_{t-1} Ur + b_rec.
type gruCell struct{}

func (gruCell) forward(k *recurrent, s, ti, lo, hi int) {
	t, u, gu := k.t, k.u, k.gu
	for n := lo; n < hi; n++ {
		a := k.g[(n*t+ti)*gu : (n*t+ti+1)*gu]
		q := k.rec[(n*t+ti)*gu : (n*t+ti+1)*gu]
		hp := k.hprev[(n*t+ti)*u : (n*t+ti+1)*u]
		h := k.hs[(n*t+s)*u : (n*t+s+1)*u]
		for j := 0; j < u; j++ {
			z := sigmoid32(a[j] + q[j])
			r := sigmoid32(a[u+j] + q[u+j])
			c := tanh32(a[2*u+j] + r*q[2*u+j])
			a[j], a[u+j], a[2*u+j] = z, r, c
			h[j] = z*hp[j] + (1-z)*c
		}
	}
}

func (gruCell) backward(k *recurrent, s, ti, lo, hi int) {
	t, u, gu := k.t, k.u, k.gu
	for n := lo; n < hi; n++ {
		a := k.g[(n*t+ti)*gu : (n*t+ti+1)*gu]
		q := k.rec[(n*t+ti)*gu : (n*t+ti+1)*gu]
		d := k.dg[(n*t+ti)*gu : (n*t+ti+1)*gu]
		dq := k.drec[(n*t+ti)*gu : (n*t+ti+1)*gu]
		hp := k.hprev[(n*t+ti)*u : (n*t+ti+1)*u]
		dh := k.dh[n*u : (n+1)*u]
		for j := 0; j < u; j++ {
			z, r, c := a[j], a[u+j], a[2*u+j]
			g := dh[j]
			dac := g * (1 - z) * (1 - c*c)
			dr := dac * q[2*u+j]
			daz := g * (hp[j] - c) * z * (1 - z)
			dar := dr * r * (1 - r)
			d[j], d[u+j], d[2*u+j] = daz, dar, dac
			dq[j], dq[u+j], dq[2*u+j] = daz, dar, dac*r
			dh[j] = g * z
		}
	}
}
