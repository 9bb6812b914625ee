package nn

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/goqat/goqat/tensor"
)

// Dropout zeroes a random fraction Rate of its input in training and scales
// the rest by 1/(1-Rate) (inverted dropout, as Keras's Dropout), so that
// inference is the identity.
//
// The mask is drawn from Context.Rand, serially in element order, two
// elements per Uint64 (low then high 32 bits, an element is dropped when its
// 32-bit draw is below Rate*2^32), so a reseeded Rand gives the same mask.
type Dropout struct {
	Base
	// Rate is the fraction of inputs dropped, in [0, 1).
	Rate float64

	training bool
	mask     []float32 // 0 or 1/(1-Rate) per element of the last training Forward
	out, dx  *tensor.Tensor
	dxs      [1]*tensor.Tensor
}

// DropoutConfig is Dropout's saved configuration.
type DropoutConfig struct {
	Rate float64 `json:"rate"`
}

// NewDropout returns a Dropout layer; Build rejects a rate outside [0, 1).
func NewDropout(rate float64) *Dropout { return &Dropout{Rate: rate} }

func init() {
	Register("Dropout", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg DropoutConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Dropout %q: config: %w", name, err)
		}
		d := NewDropout(cfg.Rate)
		d.SetName(name)
		if err := d.checkRate(); err != nil {
			return nil, err
		}
		return d, nil
	})
}

// checkRate validates Rate.
func (d *Dropout) checkRate() error {
	if !(d.Rate >= 0 && d.Rate < 1) {
		return fmt.Errorf("Dropout %q: rate must be in [0, 1), got %v", d.Name(), d.Rate)
	}
	return nil
}

// Type returns "Dropout".
func (d *Dropout) Type() string { return "Dropout" }

// Config returns a DropoutConfig.
func (d *Dropout) Config() any { return DropoutConfig{Rate: d.Rate} }

// Params returns nil: Dropout has no weights.
func (d *Dropout) Params() []*Param { return nil }

// Build checks the rate and for one input; the output has its shape.
func (d *Dropout) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Dropout %q: expects 1 input, got %d", d.Name(), len(in))
	}
	if err := d.checkRate(); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

// Forward, in training with Rate > 0, draws a mask and returns x*mask;
// otherwise it returns x itself.
// x (N, ...) -> out (N, ...)
func (d *Dropout) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	d.training = c.Training && d.Rate > 0
	if !d.training {
		return x
	}
	if c.Rand == nil {
		panic(fmt.Sprintf("Dropout %q: training Forward needs Context.Rand", d.Name()))
	}
	n := len(x.Data)
	if cap(d.mask) < n {
		d.mask = make([]float32, n)
	}
	mask := d.mask[:n]
	d.mask = mask
	thr := uint32(math.Min(d.Rate*(1<<32), math.MaxUint32))
	keep := float32(1 / (1 - d.Rate))
	for i := 0; i < n; i += 2 {
		u := c.Rand.Uint64()
		mask[i] = keep
		if uint32(u) < thr {
			mask[i] = 0
		}
		if i+1 < n {
			mask[i+1] = keep
			if uint32(u>>32) < thr {
				mask[i+1] = 0
			}
		}
	}
	out := tensor.Ensure(&d.out, x.Shape...)
	y := out.Data[:len(mask)]
	xd := x.Data[:len(mask)]
	for i, m := range mask {
		y[i] = xd[i] * m
	}
	return out
}

// Backward returns dOut*mask after a training Forward, dOut itself
// otherwise.
// dOut (N, ...) -> dx (N, ...)
func (d *Dropout) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	if !d.training {
		d.dxs[0] = dOut
		return d.dxs[:]
	}
	dx := tensor.Ensure(&d.dx, dOut.Shape...)
	g := dOut.Data[:len(d.mask)]
	o := dx.Data[:len(d.mask)]
	for i, m := range d.mask {
		o[i] = g[i] * m
	}
	d.dxs[0] = dx
	return d.dxs[:]
}
