package nn

import (
	"encoding/json"
	"fmt"
	"github.com/goqat/goqat/internal/ops"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/tensor"
)

// Embedding maps integer indices to rows of a table, as Keras's Embedding:
// in (N, ...) holding indices as float32 values, out (N, ..., OutputDim).
// The table is initialised uniform in [-0.05, 0.05] (Keras's default).
//
// A value that is not a whole number in [0, InputDim) maps to a zero
// vector (as TensorFlow's GPU gather does); the indices get no gradient.
// Indices are exact in float32 up to 2^24.
//
// With MaskZero, index 0 is padding: it maps to a zero vector (its table
// row is kept, untrained), so that a recurrent layer with Masking after it
// skips those steps, which is what Keras's mask_zero=True achieves through
// its mask (docs/DESIGN.md, Sequence layers). InputDim counts index 0, as
// in Keras.
type Embedding struct {
	Base
	// InputDim is the number of indices (the table's rows).
	InputDim int
	// OutputDim is the size of each vector.
	OutputDim int
	// MaskZero makes index 0 padding (a zero vector).
	MaskZero bool
	// Embeddings is the table (InputDim, OutputDim); nil before Build.
	Embeddings *Param

	in     tensor.Shape // per-sample input shape
	x      *tensor.Tensor
	out    *tensor.Tensor
	dx     *tensor.Tensor
	dxs    [1]*tensor.Tensor
	params []*Param
}

// EmbeddingConfig is Embedding's saved configuration.
type EmbeddingConfig struct {
	InputDim  int  `json:"input_dim"`
	OutputDim int  `json:"output_dim"`
	MaskZero  bool `json:"mask_zero"`
}

// NewEmbedding returns an Embedding of inputDim indices to vectors of
// outputDim values.
func NewEmbedding(inputDim, outputDim int) *Embedding {
	return &Embedding{InputDim: inputDim, OutputDim: outputDim}
}

func init() {
	Register("Embedding", func(name string, raw json.RawMessage) (Layer, error) {
		var cfg EmbeddingConfig
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Embedding %q: config: %w", name, err)
		}
		l := &Embedding{InputDim: cfg.InputDim, OutputDim: cfg.OutputDim, MaskZero: cfg.MaskZero}
		l.SetName(name)
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// check validates the dimensions.
func (l *Embedding) check() error {
	if l.InputDim <= 0 || l.OutputDim <= 0 {
		return fmt.Errorf("Embedding %q: input_dim and output_dim must be positive, got %d and %d", l.Name(), l.InputDim, l.OutputDim)
	}
	if v, ok := bounds.Mul(l.InputDim, l.OutputDim); !ok || v > bounds.MaxValues {
		return fmt.Errorf("Embedding %q: a table of %d x %d values is too large", l.Name(), l.InputDim, l.OutputDim)
	}
	return nil
}

// Type returns "Embedding".
func (l *Embedding) Type() string { return "Embedding" }

// Config returns an EmbeddingConfig.
func (l *Embedding) Config() any {
	return EmbeddingConfig{InputDim: l.InputDim, OutputDim: l.OutputDim, MaskZero: l.MaskZero}
}

// Params returns the table.
func (l *Embedding) Params() []*Param { return l.params }

// ParamCount implements ParamCounter.
func (l *Embedding) ParamCount([]tensor.Shape) int64 {
	return mulCap(int64(l.InputDim), int64(l.OutputDim))
}

// Build checks the input (any shape of indices) and creates the table;
// the output appends OutputDim to the input shape.
func (l *Embedding) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Embedding %q: expects 1 input, got %d", l.Name(), len(in))
	}
	if err := in[0].Valid(); err != nil {
		return nil, fmt.Errorf("Embedding %q: input %w", l.Name(), err)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	l.in = in[0].Clone()
	l.Embeddings = NewParam("embeddings", true, l.InputDim, l.OutputDim)
	l.params = []*Param{l.Embeddings}
	return append(in[0].Clone(), l.OutputDim), nil
}

// InitWeights draws the table uniform in [-0.05, 0.05] (Keras's
// RandomUniform default).
func (l *Embedding) InitWeights(r *rand.Rand) {
	for i := range l.Embeddings.Value.Data {
		l.Embeddings.Value.Data[i] = float32((r.Float64()*2 - 1) * 0.05)
	}
}

// row returns the table row of index value v, or -1 for a zero vector.
func (l *Embedding) row(v float32) int {
	i, ok := ops.EmbeddingRow(v, l.InputDim)
	if !ok || (l.MaskZero && i == 0) {
		return -1
	}
	return i
}

// Forward gathers the rows.
// x (N, ...) -> (N, ..., D)
func (l *Embedding) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	l.x = x
	d := l.OutputDim
	shape := append(x.Shape.Clone(), d)
	out := tensor.Ensure(&l.out, shape...)
	w := l.Embeddings.Value.Data
	for p, v := range x.Data {
		o := out.Data[p*d : (p+1)*d]
		if i := l.row(v); i >= 0 {
			copy(o, w[i*d:(i+1)*d])
		} else {
			clear(o)
		}
	}
	return out
}

// Backward adds each output vector's gradient to its row (serially, in
// input order) and returns a zero gradient for the indices.
// dOut (N, ..., D) -> dx (N, ...) zeros
func (l *Embedding) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	d := l.OutputDim
	g := l.Embeddings.Grad.Data
	clear(g)
	for p, v := range l.x.Data {
		if i := l.row(v); i >= 0 {
			row := g[i*d : (i+1)*d]
			for j, dv := range dOut.Data[p*d : (p+1)*d] {
				row[j] += dv
			}
		}
	}
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dx.Zero()
	l.dxs[0] = dx
	return l.dxs[:]
}
