package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// LSTM is Keras's LSTM layer (Hochreiter 1997) with its default
// activations: in (N, T, F), out (N, T, Units) with ReturnSequences, else
// (N, Units). Per step, with gates in Keras's order i, f, c, o along the
// last axis of the weights:
//
//	z = x_t W + h_{t-1} Ur + b        W (F, 4U), Ur (U, 4U), b (4U)
//	i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_c)  o = sigmoid(z_o)
//	c_t = f * c_{t-1} + i * g
//	h_t = o * tanh(c_t)
//
// with zero initial states. Initialisation is Keras's: Glorot uniform
// kernel, orthogonal recurrent kernel, zero bias but ones for the forget
// gate (unit_forget_bias). See recurrent.go for masking, GoBackwards, the
// batched input projection and where QAT's fake quant will go (TFLite's
// integer LSTM: int16 gates and cell state, int8 input and output).
type LSTM struct {
	Base
	RecurrentOptions
	// Kernel is W (F, 4U), RecurrentKernel Ur (U, 4U), Bias b (4U), nil
	// without UseBias. All nil before Build.
	Kernel, RecurrentKernel, Bias *Param

	core recurrent
	dxs  [1]*tensor.Tensor
}

// NewLSTM returns an LSTM of the given units with a bias, returning the
// last step's output.
func NewLSTM(units int) *LSTM {
	return &LSTM{RecurrentOptions: RecurrentOptions{Units: units, UseBias: true}}
}

func init() {
	Register("LSTM", func(name string, raw json.RawMessage) (Layer, error) {
		o, err := decodeRecurrent("LSTM", name, raw)
		if err != nil {
			return nil, err
		}
		l := &LSTM{RecurrentOptions: o}
		l.SetName(name)
		return l, nil
	})
}

// Type returns "LSTM".
func (l *LSTM) Type() string { return "LSTM" }

// Config returns the layer's RecurrentOptions.
func (l *LSTM) Config() any { return l.RecurrentOptions }

// Params returns the kernel, the recurrent kernel and, with UseBias, the
// bias.
func (l *LSTM) Params() []*Param { return l.core.params }

// ParamCount implements ParamCounter.
func (l *LSTM) ParamCount(in []tensor.Shape) int64 {
	return recurrentParamCount(in, 4, l.Units, l.UseBias, false)
}

// Cost implements Coster.
func (l *LSTM) Cost(_ []tensor.Shape, out tensor.Shape) Cost { return l.core.cost(out) }

// Build checks that the input is one (T, F) sequence and creates the
// weights; the output is (T, Units) or (Units).
func (l *LSTM) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.core.build(recurrentLabel(l), &l.RecurrentOptions, lstmCell{}, 4, false, true, in)
	if err != nil {
		return nil, err
	}
	l.Kernel, l.RecurrentKernel, l.Bias = l.core.kernel, l.core.recKernel, l.core.bias
	return out, nil
}

// InitWeights sets a Glorot uniform kernel, an orthogonal recurrent kernel
// and a zero bias with ones for the forget gate, as Keras does.
func (l *LSTM) InitWeights(r *rand.Rand) {
	k := &l.core
	glorotUniform(r, k.kernel.Value.Data, k.f, k.gu)
	orthogonal(r, k.recKernel.Value.Data, k.u, k.gu)
	if k.bias != nil {
		b := k.bias.Value.Data
		clear(b)
		for j := k.u; j < 2*k.u; j++ {
			b[j] = 1
		}
	}
}

// Forward runs the sequence.
// x (N, T, F) -> (N, T, U) or (N, U)
func (l *LSTM) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	return l.core.forward(in[0])
}

// Backward is backpropagation through time.
// dOut like Forward's output -> dx (N, T, F)
func (l *LSTM) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	l.dxs[0] = l.core.backward(dOut)
	return l.dxs[:]
}

// recurrentLabel names a recurrent layer in messages.
func recurrentLabel(l Layer) string {
	if l.Name() == "" {
		return l.Type()
	}
	return l.Type() + " " + `"` + l.Name() + `"`
}

// lstmCell is the LSTM step (see LSTM). In g, the step's four gate blocks
// become i, f, g, o; cs and tc hold c_t and tanh(c_t).
type lstmCell struct{}

func (lstmCell) forward(k *recurrent, s, ti, lo, hi int) {
	t, u, gu := k.t, k.u, k.gu
	for n := lo; n < hi; n++ {
		z := k.g[(n*t+ti)*gu : (n*t+ti+1)*gu]
		zi, zf, zc, zo := z[:u], z[u:2*u], z[2*u:3*u], z[3*u:4*u]
		c := k.cs[(n*t+s)*u : (n*t+s+1)*u]
		tc := k.tc[(n*t+s)*u : (n*t+s+1)*u]
		h := k.hs[(n*t+s)*u : (n*t+s+1)*u]
		var cp []float32
		if s > 0 {
			cp = k.cs[(n*t+s-1)*u : (n*t+s)*u]
		}
		for j := 0; j < u; j++ {
			i := sigmoid32(zi[j])
			f := sigmoid32(zf[j])
			g := tanh32(zc[j])
			o := sigmoid32(zo[j])
			cv := i * g
			if cp != nil {
				cv += f * cp[j]
			}
			th := tanh32(cv)
			zi[j], zf[j], zc[j], zo[j] = i, f, g, o
			c[j], tc[j], h[j] = cv, th, o*th
		}
	}
}

func (lstmCell) backward(k *recurrent, s, ti, lo, hi int) {
	t, u, gu := k.t, k.u, k.gu
	for n := lo; n < hi; n++ {
		a := k.g[(n*t+ti)*gu : (n*t+ti+1)*gu]
		d := k.dg[(n*t+ti)*gu : (n*t+ti+1)*gu]
		tc := k.tc[(n*t+s)*u : (n*t+s+1)*u]
		dh := k.dh[n*u : (n+1)*u]
		dc := k.dc[n*u : (n+1)*u]
		var cp []float32
		if s > 0 {
			cp = k.cs[(n*t+s-1)*u : (n*t+s)*u]
		}
		for j := 0; j < u; j++ {
			i, f, g, o := a[j], a[u+j], a[2*u+j], a[3*u+j]
			th := tc[j]
			dct := dc[j] + dh[j]*o*(1-th*th)
			do := dh[j] * th
			var df float32
			if cp != nil {
				df = dct * cp[j]
			}
			d[j] = dct * g * i * (1 - i)
			d[u+j] = df * f * (1 - f)
			d[2*u+j] = dct * i * (1 - g*g)
			d[3*u+j] = do * o * (1 - o)
			dc[j] = dct * f
			dh[j] = 0
		}
	}
}

// sigmoid32 is 1 / (1 + e^-x), computed in float64.
func sigmoid32(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// tanh32 is tanh(x), computed in float64.
func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }
