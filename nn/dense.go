package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Dense is a fully connected layer: out = x W + b, like Keras's Dense
// without a fused activation (follow it with an activation layer).
//
// Its input is rank 1 per sample, (features); flatten images first.
type Dense struct {
	Base
	// Units is the number of output features.
	Units int
	// UseBias adds the bias vector b (true by default).
	UseBias bool
	// Kernel is W, shape (in, Units); Bias is b, shape (Units), nil when
	// UseBias is false. Both are nil before Build.
	Kernel, Bias *Param

	in     int            // input features
	x      *tensor.Tensor // input of the last Forward
	out    *tensor.Tensor // (N, Units)
	dx     *tensor.Tensor // (N, in)
	dxs    [1]*tensor.Tensor
	params []*Param
}

// DenseConfig is Dense's saved configuration.
type DenseConfig struct {
	Units   int  `json:"units"`
	UseBias bool `json:"use_bias"`
}

// NewDense returns a Dense layer with the given number of output units and
// a bias.
func NewDense(units int) *Dense { return &Dense{Units: units, UseBias: true} }

func init() {
	Register("Dense", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := DenseConfig{UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Dense %q: config: %w", name, err)
		}
		if cfg.Units <= 0 {
			return nil, fmt.Errorf("Dense %q: units must be positive, got %d", name, cfg.Units)
		}
		d := &Dense{Units: cfg.Units, UseBias: cfg.UseBias}
		d.SetName(name)
		return d, nil
	})
}

// Type returns "Dense".
func (d *Dense) Type() string { return "Dense" }

// Config returns a DenseConfig.
func (d *Dense) Config() any { return DenseConfig{Units: d.Units, UseBias: d.UseBias} }

// Params returns the kernel and, with UseBias, the bias.
func (d *Dense) Params() []*Param { return d.params }

// Build checks that the input is one rank-1 tensor and creates the weights.
func (d *Dense) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Dense %q: expects 1 input, got %d", d.Name(), len(in))
	}
	if d.Units <= 0 {
		return nil, fmt.Errorf("Dense %q: units must be positive, got %d", d.Name(), d.Units)
	}
	if len(in[0]) != 1 {
		return nil, fmt.Errorf("Dense %q: input shape %v must be rank 1 (features); add a Flatten layer before it", d.Name(), in[0])
	}
	if err := in[0].Valid(); err != nil {
		return nil, fmt.Errorf("Dense %q: %w", d.Name(), err)
	}
	d.in = in[0][0]
	d.Kernel = NewParam("kernel", true, d.in, d.Units)
	d.params = []*Param{d.Kernel}
	d.Bias = nil
	if d.UseBias {
		d.Bias = NewParam("bias", true, d.Units)
		d.params = append(d.params, d.Bias)
	}
	return tensor.Shape{d.Units}, nil
}

// InitWeights sets a Glorot uniform kernel and a zero bias (Keras's
// defaults).
func (d *Dense) InitWeights(r *rand.Rand) {
	glorotUniform(r, d.Kernel.Value.Data, d.in, d.Units)
	if d.Bias != nil {
		d.Bias.Value.Zero()
	}
}

// Forward computes out = x W + b.
// x (N, in), W (in, units), b (units) -> out (N, units)
func (d *Dense) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*d.in {
		panic(fmt.Sprintf("Dense %q: input shape %v, built for (N, %d)", d.Name(), x.Shape, d.in))
	}
	d.x = x
	out := tensor.Ensure(&d.out, n, d.Units)
	kernels.Sgemm(false, false, n, d.Units, d.in, 1, x.Data, d.in, d.Kernel.Value.Data, d.Units, 0, out.Data, d.Units)
	if d.Bias != nil {
		b := d.Bias.Value.Data
		for r := 0; r < n; r++ {
			row := out.Data[r*d.Units : (r+1)*d.Units]
			row = row[:len(b)]
			for j, v := range b {
				row[j] += v
			}
		}
	}
	return out
}

// Backward computes dW = x^T dOut, db = column sums of dOut (serial, in
// row order, float32) and dx = dOut W^T.
// dOut (N, units) -> dx (N, in)
func (d *Dense) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	x := d.x
	kernels.Sgemm(true, false, d.in, d.Units, n, 1, x.Data, d.in, dOut.Data, d.Units, 0, d.Kernel.Grad.Data, d.Units)
	if d.Bias != nil {
		db := d.Bias.Grad.Data
		clear(db)
		for r := 0; r < n; r++ {
			row := dOut.Data[r*d.Units : (r+1)*d.Units]
			row = row[:len(db)]
			for j, v := range row {
				db[j] += v
			}
		}
	}
	dx := tensor.Ensure(&d.dx, n, d.in)
	kernels.Sgemm(false, true, n, d.in, d.Units, 1, dOut.Data, d.Units, d.Kernel.Value.Data, d.Units, 0, dx.Data, d.in)
	d.dxs[0] = dx
	return d.dxs[:]
}
