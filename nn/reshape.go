package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

// Reshape gives each sample a new shape of the same size, as Keras's
// Reshape. One dimension of the target may be -1: it is inferred. Its output
// and its input gradient are views: no data is copied.
type Reshape struct {
	Base
	// TargetShape is the per-sample output shape (batch left out); one
	// entry may be -1.
	TargetShape []int

	inShape  tensor.Shape // per-sample input shape
	outShape tensor.Shape // resolved target
	out, dx  tensor.Tensor
	dxs      [1]*tensor.Tensor
}

// ReshapeConfig is Reshape's saved configuration.
type ReshapeConfig struct {
	TargetShape []int `json:"target_shape"`
}

// NewReshape returns a Reshape layer to the per-sample shape given (one
// entry may be -1).
func NewReshape(shape ...int) *Reshape { return &Reshape{TargetShape: append([]int(nil), shape...)} }

func init() {
	Register("Reshape", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg ReshapeConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Reshape %q: config: %w", name, err)
		}
		r := NewReshape(cfg.TargetShape...)
		r.SetName(name)
		if _, err := r.resolve(-1); err != nil {
			return nil, err
		}
		return r, nil
	})
}

// Type returns "Reshape".
func (r *Reshape) Type() string { return "Reshape" }

// Config returns a ReshapeConfig.
func (r *Reshape) Config() any {
	return ReshapeConfig{TargetShape: append([]int(nil), r.TargetShape...)}
}

// Params returns nil: Reshape has no weights.
func (r *Reshape) Params() []*Param { return nil }

// resolve checks TargetShape and infers its -1 entry for a sample of the
// given size (size < 0: check the entries only).
func (r *Reshape) resolve(size int) (tensor.Shape, error) {
	if len(r.TargetShape) == 0 {
		return nil, fmt.Errorf("Reshape %q: empty target shape", r.Name())
	}
	out := tensor.Shape(r.TargetShape).Clone()
	infer, known := -1, 1
	for i, d := range out {
		switch {
		case d == -1 && infer >= 0:
			return nil, fmt.Errorf("Reshape %q: target shape %v has more than one -1", r.Name(), r.TargetShape)
		case d == -1:
			infer = i
		case d <= 0:
			return nil, fmt.Errorf("Reshape %q: target shape %v has a dimension that is neither positive nor -1", r.Name(), r.TargetShape)
		default:
			var ok bool
			if known, ok = bounds.Mul(known, d); !ok || known > bounds.MaxValues {
				return nil, fmt.Errorf("Reshape %q: target shape %v has more than %d values", r.Name(), r.TargetShape, bounds.MaxValues)
			}
		}
	}
	if size < 0 {
		return out, nil
	}
	if infer >= 0 {
		if size%known != 0 {
			return nil, fmt.Errorf("Reshape %q: cannot reshape %d values per sample to %v", r.Name(), size, r.TargetShape)
		}
		out[infer] = size / known
	} else if known != size {
		return nil, fmt.Errorf("Reshape %q: cannot reshape %d values per sample to %v (%d values)", r.Name(), size, r.TargetShape, known)
	}
	return out, nil
}

// Build checks for one input whose size matches the target and returns the
// resolved target shape.
func (r *Reshape) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Reshape %q: expects 1 input, got %d", r.Name(), len(in))
	}
	if err := in[0].Valid(); err != nil {
		return nil, fmt.Errorf("Reshape %q: %w", r.Name(), err)
	}
	out, err := r.resolve(in[0].Size())
	if err != nil {
		return nil, fmt.Errorf("%w (input shape %v)", err, in[0])
	}
	r.inShape = in[0].Clone()
	r.outShape = out
	return out.Clone(), nil
}

// Forward returns x viewed with the target shape.
// x (N, ...) -> out (N, target...)
func (r *Reshape) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*r.outShape.Size() {
		panic(fmt.Sprintf("Reshape %q: input shape %v, built for %v", r.Name(), x.Shape, r.inShape))
	}
	r.out.Data = x.Data
	r.out.Shape = append(append(r.out.Shape[:0], n), r.outShape...)
	return &r.out
}

// Backward returns dOut viewed as the input's shape.
// dOut (N, target...) -> dx (N, ...)
func (r *Reshape) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	r.dx.Data = dOut.Data
	r.dx.Shape = append(append(r.dx.Shape[:0], dOut.Shape[0]), r.inShape...)
	r.dxs[0] = &r.dx
	return r.dxs[:]
}
