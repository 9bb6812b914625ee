package nn

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// ReLU is the rectifier, out = max(x, 0), as Keras's ReLU() with its
// defaults. Its gradient at 0 is 0.
type ReLU struct {
	Base
	actCore
}

// NewReLU returns a ReLU layer.
func NewReLU() *ReLU { return &ReLU{} }

// ReLU6 is the rectifier capped at 6, out = min(max(x, 0), 6), as Keras's
// ReLU(max_value=6); a type of its own because quantization treats it as a
// clamp. Its gradient is 1 on (0, 6), 0 elsewhere.
type ReLU6 struct {
	Base
	actCore
}

// NewReLU6 returns a ReLU6 layer.
func NewReLU6() *ReLU6 { return &ReLU6{} }

// Activation applies a named function element-wise (softmax: over the last
// axis), as Keras's Activation layer.
type Activation struct {
	Base
	// Func is the function's Keras name: "relu", "relu6", "sigmoid",
	// "tanh", "softmax", "linear", "hard_sigmoid", "hard_swish" (or its
	// other Keras name "hard_silu") or "silu" (or "swish").
	Func string
	actCore
}

// ActivationConfig is Activation's saved configuration.
type ActivationConfig struct {
	Activation string `json:"activation"`
}

// NewActivation returns an Activation layer for a function name ("relu",
// "relu6", "sigmoid", "tanh", "softmax", "linear", "hard_sigmoid",
// "hard_swish", "hard_silu", "silu", "swish"), or an error for an unknown
// name. The name is kept as given (saved models keep it).
func NewActivation(name string) (*Activation, error) {
	if _, err := activationKind(name); err != nil {
		return nil, err
	}
	return &Activation{Func: name}, nil
}

func init() {
	Register("ReLU", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("ReLU %q: config: %w", name, err)
		}
		r := NewReLU()
		r.SetName(name)
		return r, nil
	})
	Register("ReLU6", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("ReLU6 %q: config: %w", name, err)
		}
		r := NewReLU6()
		r.SetName(name)
		return r, nil
	})
	Register("Activation", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg ActivationConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Activation %q: config: %w", name, err)
		}
		a, err := NewActivation(cfg.Activation)
		if err != nil {
			return nil, fmt.Errorf("Activation %q: %w", name, err)
		}
		a.SetName(name)
		return a, nil
	})
}

// Type returns "ReLU".
func (r *ReLU) Type() string { return "ReLU" }

// Config returns an empty configuration.
func (r *ReLU) Config() any { return struct{}{} }

// Build checks for one input; the output has its shape.
func (r *ReLU) Build(in []tensor.Shape) (tensor.Shape, error) {
	return r.build("ReLU", r.Name(), actReLU, in)
}

// Forward computes out = max(x, 0).
// x (N, ...) -> out (N, ...)
func (r *ReLU) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor { return r.forward(in) }

// Backward computes dx = dOut where out > 0, else 0.
// dOut (N, ...) -> dx (N, ...)
func (r *ReLU) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor { return r.backward(dOut) }

// Type returns "ReLU6".
func (r *ReLU6) Type() string { return "ReLU6" }

// Config returns an empty configuration.
func (r *ReLU6) Config() any { return struct{}{} }

// Build checks for one input; the output has its shape.
func (r *ReLU6) Build(in []tensor.Shape) (tensor.Shape, error) {
	return r.build("ReLU6", r.Name(), actReLU6, in)
}

// Forward computes out = min(max(x, 0), 6).
// x (N, ...) -> out (N, ...)
func (r *ReLU6) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor { return r.forward(in) }

// Backward computes dx = dOut where 0 < out < 6, else 0.
// dOut (N, ...) -> dx (N, ...)
func (r *ReLU6) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor { return r.backward(dOut) }

// Type returns "Activation".
func (a *Activation) Type() string { return "Activation" }

// Config returns an ActivationConfig.
func (a *Activation) Config() any { return ActivationConfig{Activation: a.Func} }

// Build checks Func and the input; the output has the input's shape.
func (a *Activation) Build(in []tensor.Shape) (tensor.Shape, error) {
	k, err := activationKind(a.Func)
	if err != nil {
		return nil, fmt.Errorf("Activation %q: %w", a.Name(), err)
	}
	return a.build("Activation", a.Name(), k, in)
}

// Forward applies Func: relu, relu6, sigmoid 1/(1+exp(-x)), tanh, softmax
// exp(x - max)/sum(exp(x - max)) over the last axis, linear (returns x
// itself), hard_sigmoid relu6(x+3)/6, hard_swish x*relu6(x+3)/6 or silu
// x*sigmoid(x) (the last three and sigmoid computed in float64 by the
// qmath functions that the integer engine tabulates).
// x (N, ...) -> out (N, ...)
func (a *Activation) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor { return a.forward(in) }

// Backward computes dx from the output y: relu, relu6 as their layers;
// sigmoid dOut*y*(1-y); tanh dOut*(1-y*y); softmax y*(dOut - sum(dOut*y))
// per row; linear returns dOut itself. The others from the input x:
// hard_sigmoid dOut/6 on -3 < x < 3, else 0; hard_swish dOut*(2x+3)/6 on
// -3 < x < 3, dOut for x >= 3, else 0; silu dOut*s*(1 + x*(1-s)) with
// s = sigmoid(x).
// dOut (N, ...) -> dx (N, ...)
func (a *Activation) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	return a.backward(dOut)
}

// actKind is an element-wise function.
type actKind int

const (
	actLinear actKind = iota
	actReLU
	actReLU6
	actSigmoid
	actTanh
	actSoftmax
	actHardSigmoid
	actHardSwish
	actSiLU
)

// activationKind maps a Keras activation name to its kind.
func activationKind(name string) (actKind, error) {
	switch name {
	case "linear":
		return actLinear, nil
	case "relu":
		return actReLU, nil
	case "relu6":
		return actReLU6, nil
	case "sigmoid":
		return actSigmoid, nil
	case "tanh":
		return actTanh, nil
	case "softmax":
		return actSoftmax, nil
	case "hard_sigmoid":
		return actHardSigmoid, nil
	case "hard_swish", "hard_silu":
		return actHardSwish, nil
	case "silu", "swish":
		return actSiLU, nil
	}
	return 0, fmt.Errorf("unknown activation %q (want relu, relu6, sigmoid, tanh, softmax, linear, hard_sigmoid, "+
		"hard_swish, hard_silu, silu or swish)", name)
}

// actGrain is the parallel grain of element-wise loops, in elements.
const actGrain = 16384

// actCore is the shared machinery of ReLU, ReLU6 and Activation: buffers
// kept across steps and range functions bound once for ParallelFor.
type actCore struct {
	kind    actKind
	k       int            // softmax row length (last axis)
	x, dy   *tensor.Tensor // input of the last Forward, dOut of the running Backward
	out, dx *tensor.Tensor
	dxs     [1]*tensor.Tensor
	fwdFn   func(lo, hi int)
	bwdFn   func(lo, hi int)
}

// Params returns nil: activations have no weights.
func (a *actCore) Params() []*Param { return nil }

// build checks for one input and records the function.
func (a *actCore) build(typ, name string, k actKind, in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%s %q: expects 1 input, got %d", typ, name, len(in))
	}
	if k == actSoftmax && len(in[0]) == 0 {
		return nil, fmt.Errorf("%s %q: softmax needs an input with at least one axis besides the batch", typ, name)
	}
	a.kind = k
	a.fwdFn = a.forwardRange
	a.bwdFn = a.backwardRange
	return in[0].Clone(), nil
}

// fusedKind returns the function if a BatchNormalization before the layer
// can compute it in its own pass (relu or relu6), else actLinear.
func (a *actCore) fusedKind() actKind {
	if a.kind == actReLU || a.kind == actReLU6 {
		return a.kind
	}
	return actLinear
}

// fusedOut returns the layer's output buffer, shaped like x, for a Forward
// that a BatchNormalization computes in the layer's place (forwardAct). The
// layer's Backward still works after it: it needs only the output.
func (a *actCore) fusedOut(x *tensor.Tensor) *tensor.Tensor {
	a.x = nil
	return tensor.Ensure(&a.out, x.Shape...)
}

// forward runs the function over the input, in parallel over elements
// (softmax: rows).
func (a *actCore) forward(in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	if a.kind == actLinear {
		return x
	}
	a.x = x
	tensor.Ensure(&a.out, x.Shape...)
	if a.kind == actSoftmax {
		a.k = x.Shape[len(x.Shape)-1]
		kernels.ParallelFor(len(x.Data)/a.k, max(1, actGrain/4/a.k), a.fwdFn)
	} else {
		kernels.ParallelFor(len(x.Data), actGrain, a.fwdFn)
	}
	return a.out
}

// backward runs the function's gradient.
func (a *actCore) backward(dOut *tensor.Tensor) []*tensor.Tensor {
	if a.kind == actLinear {
		a.dxs[0] = dOut
		return a.dxs[:]
	}
	a.dy = dOut
	tensor.Ensure(&a.dx, dOut.Shape...)
	if a.kind == actSoftmax {
		kernels.ParallelFor(len(dOut.Data)/a.k, max(1, actGrain/4/a.k), a.bwdFn)
	} else {
		kernels.ParallelFor(len(dOut.Data), actGrain, a.bwdFn)
	}
	a.dy = nil
	a.dxs[0] = a.dx
	return a.dxs[:]
}

// forwardRange computes out[lo:hi] (softmax: rows lo..hi).
func (a *actCore) forwardRange(lo, hi int) {
	if a.kind == actSoftmax {
		softmaxRows(a.x.Data[lo*a.k:hi*a.k], a.out.Data[lo*a.k:hi*a.k], a.k)
		return
	}
	x, y := a.x.Data[lo:hi], a.out.Data[lo:hi]
	y = y[:len(x)]
	switch a.kind {
	case actReLU: // Go's max, in AVX-512 where the CPU has it
		kernels.ActRows(x, y, kernels.ActReLU)
	case actReLU6:
		kernels.ActRows(x, y, kernels.ActReLU6)
	case actSigmoid:
		for i, v := range x {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	case actTanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case actHardSigmoid:
		for i, v := range x {
			y[i] = float32(qmath.HardSigmoid(float64(v)))
		}
	case actHardSwish:
		for i, v := range x {
			y[i] = float32(qmath.HardSwish(float64(v)))
		}
	case actSiLU:
		for i, v := range x {
			y[i] = float32(qmath.SiLU(float64(v)))
		}
	}
}

// backwardRange computes dx[lo:hi] from the output and dOut (softmax:
// rows lo..hi).
func (a *actCore) backwardRange(lo, hi int) {
	if a.kind == actSoftmax {
		softmaxBackwardRows(a.out.Data[lo*a.k:hi*a.k], a.dy.Data[lo*a.k:hi*a.k], a.dx.Data[lo*a.k:hi*a.k], a.k)
		return
	}
	y, dy, dx := a.out.Data[lo:hi], a.dy.Data[lo:hi], a.dx.Data[lo:hi]
	dy = dy[:len(y)]
	dx = dx[:len(y)]
	switch a.kind {
	// The ReLU masks are branch-free (random signs defeat the branch
	// predictor, 3-4x slower): y >= 0 as an output, so its bits read as an
	// int32 are positive exactly when y > 0, and int32(bits)-1 cannot
	// overflow; likewise 6-y >= 0 is positive exactly when y < 6.
	case actReLU: // the mask below without its 6-y term (AVX-512 where the CPU has it)
		kernels.ReLUGrad(y, dy, dx)
	case actReLU6:
		for i, v := range y {
			keep := ^uint32((int32(math.Float32bits(v))-1)>>31) & ^uint32((int32(math.Float32bits(6-v))-1)>>31)
			dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & keep)
		}
	case actSigmoid:
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	case actTanh:
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case actHardSigmoid, actHardSwish, actSiLU:
		a.backwardFromInput(a.x.Data[lo:hi], dy, dx)
	}
}

// backwardFromInput computes dx of the functions whose gradient needs the
// input x (hard_sigmoid, hard_swish, silu). At the kinks of the first two
// (x = -3 and 3) it takes the gradient of the side the function is flat
// or linear on: 0 at -3, 0 (hard_sigmoid) or 1 (hard_swish) at 3.
func (a *actCore) backwardFromInput(x, dy, dx []float32) {
	x = x[:len(dy)]
	dx = dx[:len(dy)]
	switch a.kind {
	case actHardSigmoid:
		for i, v := range x {
			g := float32(0)
			if v > -3 && v < 3 {
				g = 1.0 / 6
			}
			dx[i] = dy[i] * g
		}
	case actHardSwish:
		for i, v := range x {
			g := float32(0)
			switch {
			case v >= 3:
				g = 1
			case v > -3:
				g = (2*v + 3) / 6
			}
			dx[i] = dy[i] * g
		}
	case actSiLU:
		for i, v := range x {
			s := qmath.Sigmoid(float64(v))
			dx[i] = float32(float64(dy[i]) * s * (1 + float64(v)*(1-s)))
		}
	}
}

// softmaxRows writes y = exp(x - max)/sum(exp(x - max)) for each row of k
// values, summing in float64.
func softmaxRows(x, y []float32, k int) {
	for r := 0; r+k <= len(x); r += k {
		xr, yr := x[r:r+k], y[r:r+k]
		yr = yr[:len(xr)]
		mx := xr[0]
		for _, v := range xr {
			mx = max(mx, v)
		}
		var s float64
		for i, v := range xr {
			e := math.Exp(float64(v - mx))
			s += e
			yr[i] = float32(e)
		}
		inv := 1 / s
		for i, v := range yr {
			yr[i] = float32(float64(v) * inv)
		}
	}
}

// softmaxBackwardRows writes dx = y*(dy - sum(dy*y)) for each row of k
// values.
func softmaxBackwardRows(y, dy, dx []float32, k int) {
	for r := 0; r+k <= len(y); r += k {
		yr, gr, dr := y[r:r+k], dy[r:r+k], dx[r:r+k]
		gr = gr[:len(yr)]
		dr = dr[:len(yr)]
		var s float64
		for i, v := range yr {
			s += float64(v) * float64(gr[i])
		}
		s32 := float32(s)
		for i, v := range yr {
			dr[i] = v * (gr[i] - s32)
		}
	}
}
