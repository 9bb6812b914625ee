package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// MaxPooling1D takes the maximum over each window of PoolSize steps, like
// Keras's MaxPooling1D: in (N, T, C), out (N, OT, C). With "same" padding
// (OT = ceil(T/stride)) the padded cells never win. The gradient goes to
// the window's first maximum.
type MaxPooling1D struct {
	Base
	// PoolSize is the window length (2 by default).
	PoolSize int
	// Strides is the step; NewMaxPooling1D sets it to PoolSize, as Keras
	// does by default.
	Strides int
	// Padding is "valid" (the default) or "same".
	Padding string

	t, c, ot, padL int
	x              *tensor.Tensor
	out, dx        *tensor.Tensor
	dxs            [1]*tensor.Tensor
	arg            []int32 // winning input step of each output
}

// Pool1DConfig is MaxPooling1D's saved configuration.
type Pool1DConfig struct {
	PoolSize int    `json:"pool_size"`
	Strides  int    `json:"strides"`
	Padding  string `json:"padding"`
}

// NewMaxPooling1D returns a MaxPooling1D with the given window, strides
// equal to it and "valid" padding.
func NewMaxPooling1D(pool int) *MaxPooling1D {
	return &MaxPooling1D{PoolSize: pool, Strides: pool, Padding: "valid"}
}

func init() {
	Register("MaxPooling1D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := Pool1DConfig{PoolSize: 2, Padding: "valid"}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("MaxPooling1D %q: config: %w", name, err)
		}
		if cfg.Strides == 0 {
			cfg.Strides = cfg.PoolSize
		}
		l := &MaxPooling1D{PoolSize: cfg.PoolSize, Strides: cfg.Strides, Padding: cfg.Padding}
		l.SetName(name)
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
	Register("GlobalAveragePooling1D", func(name string, raw json.RawMessage) (Layer, error) {
		if err := decodeConfig(raw, &struct{}{}); err != nil {
			return nil, fmt.Errorf("GlobalAveragePooling1D %q: config: %w", name, err)
		}
		l := NewGlobalAveragePooling1D()
		l.SetName(name)
		return l, nil
	})
}

// check validates the hyper-parameters.
func (l *MaxPooling1D) check() error {
	switch {
	case l.PoolSize <= 0 || l.Strides <= 0:
		return fmt.Errorf("MaxPooling1D %q: pool_size and strides must be positive, got %d and %d", l.Name(), l.PoolSize, l.Strides)
	case l.PoolSize > bounds.MaxValues:
		return fmt.Errorf("MaxPooling1D %q: pool_size %d is too large", l.Name(), l.PoolSize)
	case l.Padding != "valid" && l.Padding != "same":
		return fmt.Errorf("MaxPooling1D %q: padding %q, want \"valid\" or \"same\"", l.Name(), l.Padding)
	}
	return nil
}

// Type returns "MaxPooling1D".
func (l *MaxPooling1D) Type() string { return "MaxPooling1D" }

// Config returns a Pool1DConfig.
func (l *MaxPooling1D) Config() any {
	return Pool1DConfig{PoolSize: l.PoolSize, Strides: l.Strides, Padding: l.Padding}
}

// Params returns nil: pooling has no weights.
func (l *MaxPooling1D) Params() []*Param { return nil }

// Cost implements Coster: the window taps, the output and the winners.
func (l *MaxPooling1D) Cost(_ []tensor.Shape, out tensor.Shape) Cost {
	return Cost{Work: bounds.SatMul(int64(l.ot), int64(l.PoolSize), int64(l.c)), Bytes: bounds.SatMul(8, values(out))}
}

// Build checks that the input is one (T, C) sequence that the window fits
// and returns (OT, C).
func (l *MaxPooling1D) Build(in []tensor.Shape) (tensor.Shape, error) {
	label := fmt.Sprintf("MaxPooling1D %q", l.Name())
	t, c, err := sequenceInput(label, in)
	if err != nil {
		return nil, err
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	ot, padL, ok := conv1DLength(t, l.PoolSize, l.Strides, 1, l.Padding)
	if !ok {
		return nil, fmt.Errorf("%s: a window of %d does not fit %d steps with \"valid\" padding", label, l.PoolSize, t)
	}
	l.t, l.c, l.ot, l.padL = t, c, ot, padL
	return tensor.Shape{ot, c}, nil
}

// Forward takes the maxima.
// x (N, T, C) -> (N, OT, C)
func (l *MaxPooling1D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*l.t*l.c {
		panic(fmt.Sprintf("MaxPooling1D %q: input shape %v, built for (N, %d, %d)", l.Name(), x.Shape, l.t, l.c))
	}
	l.x = x
	t, ch, ot := l.t, l.c, l.ot
	out := tensor.Ensure(&l.out, n, ot, ch)
	l.arg = grow(l.arg, n*ot*ch)
	kernels.ParallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for o := 0; o < ot; o++ {
				t0 := max(o*l.Strides-l.padL, 0)
				t1 := min(o*l.Strides-l.padL+l.PoolSize, t)
				dst := out.Data[(i*ot+o)*ch : (i*ot+o+1)*ch]
				arg := l.arg[(i*ot+o)*ch : (i*ot+o+1)*ch]
				copy(dst, x.Data[(i*t+t0)*ch:(i*t+t0+1)*ch])
				for j := range arg {
					arg[j] = int32(t0)
				}
				for s := t0 + 1; s < t1; s++ {
					for j, v := range x.Data[(i*t+s)*ch : (i*t+s+1)*ch] {
						if v > dst[j] {
							dst[j], arg[j] = v, int32(s)
						}
					}
				}
			}
		}
	})
	return out
}

// Backward routes each output's gradient to its winner.
// dOut (N, OT, C) -> dx (N, T, C)
func (l *MaxPooling1D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	t, ch, ot := l.t, l.c, l.ot
	dx := tensor.Ensure(&l.dx, n, t, ch)
	kernels.ParallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			clear(dx.Data[i*t*ch : (i+1)*t*ch])
			for o := 0; o < ot; o++ {
				g := dOut.Data[(i*ot+o)*ch : (i*ot+o+1)*ch]
				for j, s := range l.arg[(i*ot+o)*ch : (i*ot+o+1)*ch] {
					dx.Data[(i*t+int(s))*ch+j] += g[j]
				}
			}
		}
	})
	l.dxs[0] = dx
	return l.dxs[:]
}

// GlobalAveragePooling1D averages each channel over the steps, like
// Keras's GlobalAveragePooling1D: in (N, T, C), out (N, C). It ignores
// masking: padding steps count in the mean.
type GlobalAveragePooling1D struct {
	Base

	t, c    int
	out, dx *tensor.Tensor
	dxs     [1]*tensor.Tensor
}

// NewGlobalAveragePooling1D returns a GlobalAveragePooling1D layer.
func NewGlobalAveragePooling1D() *GlobalAveragePooling1D { return &GlobalAveragePooling1D{} }

// Type returns "GlobalAveragePooling1D".
func (l *GlobalAveragePooling1D) Type() string { return "GlobalAveragePooling1D" }

// Config returns an empty configuration ({}).
func (l *GlobalAveragePooling1D) Config() any { return struct{}{} }

// Params returns nil: pooling has no weights.
func (l *GlobalAveragePooling1D) Params() []*Param { return nil }

// Build checks that the input is one (T, C) sequence and returns (C).
func (l *GlobalAveragePooling1D) Build(in []tensor.Shape) (tensor.Shape, error) {
	t, c, err := sequenceInput(fmt.Sprintf("GlobalAveragePooling1D %q", l.Name()), in)
	if err != nil {
		return nil, err
	}
	l.t, l.c = t, c
	return tensor.Shape{c}, nil
}

// Forward sums each channel over the steps in order (float32) and divides
// by T.
// x (N, T, C) -> (N, C)
func (l *GlobalAveragePooling1D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*l.t*l.c {
		panic(fmt.Sprintf("GlobalAveragePooling1D %q: input shape %v, built for (N, %d, %d)", l.Name(), x.Shape, l.t, l.c))
	}
	t, ch := l.t, l.c
	inv := 1 / float32(t)
	out := tensor.Ensure(&l.out, n, ch)
	for i := 0; i < n; i++ {
		o := out.Data[i*ch : (i+1)*ch]
		clear(o)
		for s := 0; s < t; s++ {
			for j, v := range x.Data[(i*t+s)*ch : (i*t+s+1)*ch] {
				o[j] += v
			}
		}
		for j := range o {
			o[j] *= inv
		}
	}
	return out
}

// Backward spreads each gradient evenly over the steps.
// dOut (N, C) -> dx (N, T, C)
func (l *GlobalAveragePooling1D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	t, ch := l.t, l.c
	inv := 1 / float32(t)
	dx := tensor.Ensure(&l.dx, n, t, ch)
	for i := 0; i < n; i++ {
		g := dOut.Data[i*ch : (i+1)*ch]
		for s := 0; s < t; s++ {
			d := dx.Data[(i*t+s)*ch : (i*t+s+1)*ch]
			for j, v := range g {
				d[j] = v * inv
			}
		}
	}
	l.dxs[0] = dx
	return l.dxs[:]
}
