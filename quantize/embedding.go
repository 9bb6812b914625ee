package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/goqat/goqat/internal/ops"
	"math/rand/v2"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/quantize/transform"
	"github.com/goqat/goqat/tensor"
)

// EmbeddingConfig is QuantizeEmbedding's saved configuration: the
// Embedding's options and the table's quantizer.
type EmbeddingConfig struct {
	Embedding nn.EmbeddingConfig `json:"embedding"`
	Table     Spec               `json:"table_quantizer"`
}

// QuantizeEmbedding is the QAT form of nn.Embedding (docs/DESIGN.md,
// Sequence layers): the table is fake-quantized per tensor (the scheme's
// weight quantizer, symmetric narrow range) and the layer outputs its
// rows, so that its output is exactly the dequantized codes of the table
// and the output's scale and zero point are the table's (no
// requantization; the integer op, lite.OpEmbedding, copies the codes).
// The table's gradient passes straight through the fake quant; the
// indices get none. An index that is not a whole number in [0, InputDim),
// and 0 with MaskZero, gives zeros (the zero point's code). The layer must
// read a model input: Model inserts no QuantizeInput on an input that only
// Embeddings read (it holds indices, not values to quantize).
type QuantizeEmbedding struct {
	nn.Base
	// Cfg is the layer's configuration.
	Cfg EmbeddingConfig

	inner  *nn.Embedding
	tq     Quantizer
	params []*nn.Param
	fqt    *tensor.Tensor // the fake-quantized table (V, D)
	x      *tensor.Tensor
	out    *tensor.Tensor
	dx     *tensor.Tensor
	dxs    [1]*tensor.Tensor
}

func init() {
	nn.Register("QuantizeEmbedding", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg EmbeddingConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeEmbedding %q: config: %w", name, err)
		}
		l, err := NewQuantizeEmbedding(cfg)
		if err != nil {
			return nil, fmt.Errorf("QuantizeEmbedding %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeEmbedding returns an unbuilt QuantizeEmbedding; it checks
// the table's spec (symmetric, per tensor) and the dimensions.
func NewQuantizeEmbedding(cfg EmbeddingConfig) (*QuantizeEmbedding, error) {
	e := cfg.Embedding
	if e.InputDim <= 0 || e.OutputDim <= 0 {
		return nil, fmt.Errorf("input_dim and output_dim must be positive, got %d and %d", e.InputDim, e.OutputDim)
	}
	if err := cfg.Table.Validate(); err != nil {
		return nil, fmt.Errorf("table quantizer: %w", err)
	}
	if !cfg.Table.Symmetric || cfg.Table.PerAxis {
		return nil, errors.New("the table's quantizer must be symmetric and per tensor")
	}
	return &QuantizeEmbedding{Cfg: cfg, inner: &nn.Embedding{InputDim: e.InputDim, OutputDim: e.OutputDim, MaskZero: e.MaskZero}}, nil
}

// SetName renames the layer and the inner Embedding.
func (l *QuantizeEmbedding) SetName(name string) {
	l.Base.SetName(name)
	l.inner.SetName(name)
}

// Type returns "QuantizeEmbedding".
func (l *QuantizeEmbedding) Type() string { return "QuantizeEmbedding" }

// Config returns an EmbeddingConfig.
func (l *QuantizeEmbedding) Config() any { return l.Cfg }

// Build builds the table (nn.Embedding's "embeddings") and its quantizer.
func (l *QuantizeEmbedding) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.inner.Build(in)
	if err != nil {
		return nil, err
	}
	q, err := l.Cfg.Table.New()
	if err != nil {
		return nil, err
	}
	tab := l.inner.Embeddings.Value
	if err := q.Build("embeddings_quant", tab.Shape); err != nil {
		return nil, fmt.Errorf("QuantizeEmbedding %q: %w", l.Name(), err)
	}
	l.tq = q
	l.params = append(append([]*nn.Param(nil), l.inner.Params()...), q.Params()...)
	l.fqt = tensor.New(tab.Shape...)
	return out, nil
}

// Params returns the table, then the quantizer's state.
func (l *QuantizeEmbedding) Params() []*nn.Param { return l.params }

// InitWeights initialises the table as nn.Embedding does.
func (l *QuantizeEmbedding) InitWeights(r *rand.Rand) { l.inner.InitWeights(r) }

// ParamCount implements nn.ParamCounter: the table and the quantizer's
// state.
func (l *QuantizeEmbedding) ParamCount(in []tensor.Shape) int64 {
	return l.inner.ParamCount(in) + 3
}

// TableQuant returns the table's quantizer, whose codes are the layer's
// output codes.
func (l *QuantizeEmbedding) TableQuant() Quantizer { return l.tq }

// OutputQuant returns the quantizer of the output's codes: the table's.
func (l *QuantizeEmbedding) OutputQuant() Quantizer { return l.tq }

// Forward fake-quantizes the table and gathers its rows.
// x (N, ...) indices -> (N, ..., D)
func (l *QuantizeEmbedding) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	l.x = x
	d := l.Cfg.Embedding.OutputDim
	l.tq.Forward(c, l.inner.Embeddings.Value, l.fqt)
	out := tensor.Ensure(&l.out, append(x.Shape.Clone(), d)...)
	w := l.fqt.Data
	for p, v := range x.Data {
		o := out.Data[p*d : (p+1)*d]
		if i, ok := l.row(v); ok {
			copy(o, w[i*d:(i+1)*d])
		} else {
			clear(o)
		}
	}
	return out
}

// row returns the table row of index value v, false for zeros.
func (l *QuantizeEmbedding) row(v float32) (int, bool) {
	i, ok := ops.EmbeddingRow(v, l.Cfg.Embedding.InputDim)
	return i, ok && !(l.Cfg.Embedding.MaskZero && i == 0)
}

// Backward adds each output vector's gradient to its row (serially, in
// input order), passes it straight through the table's fake quant, and
// returns a zero gradient for the indices.
// dOut (N, ..., D) -> dx (N, ...) zeros
func (l *QuantizeEmbedding) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	d := l.Cfg.Embedding.OutputDim
	p := l.inner.Embeddings
	g := p.Grad.Data
	clear(g)
	for k, v := range l.x.Data {
		if i, ok := l.row(v); ok {
			row := g[i*d : (i+1)*d]
			for j, dv := range dOut.Data[k*d : (k+1)*d] {
				row[j] += dv
			}
		}
	}
	l.tq.Backward(c, p.Value, p.Grad, p.Grad)
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dx.Zero()
	l.dxs[0] = dx
	return l.dxs[:]
}

// IntegerOp returns the integer Embedding op of the table's current state
// (Inputs and Output left unset): the codes of the fake-quantized table,
// row 0 all zeros with MaskZero; an error if the range is not set yet.
func (l *QuantizeEmbedding) IntegerOp() (lite.Op, error) {
	if !initialised(l.tq) {
		return lite.Op{}, errors.New("the table's quantizer has not seen data yet (calibrate or train first)")
	}
	sc, zp := l.tq.Scales()
	if len(sc) != 1 || zp[0] != 0 {
		return lite.Op{}, errors.New("the table's quantizer must be symmetric and per tensor")
	}
	bits := l.Cfg.Table.Bits
	qmin, qmax := qmath.QRange(bits, true)
	tab := l.inner.Embeddings.Value
	l.tq.Forward(&nn.Context{}, tab, l.fqt) // on the grid: the codes below are exact
	op := lite.Op{Type: lite.OpEmbedding, Name: l.Name(), WeightShape: tensor.Shape{tab.Shape[0], tab.Shape[1]},
		WeightBits: bits, WeightScales: []float32{sc[0]}, Weights: make([]int8, len(tab.Data))}
	for i, v := range l.fqt.Data {
		op.Weights[i] = int8(qmath.QuantizeValue(v, sc[0], 0, qmin, qmax))
	}
	if l.Cfg.Embedding.MaskZero {
		clear(op.Weights[:tab.Shape[1]])
	}
	return op, nil
}

// Lower converts the layer to lite.OpEmbedding on the model's float32
// index input, with the table's quantizer's tensor as its output.
func (l *QuantizeEmbedding) Lower(b Lowering) error {
	x, err := b.FloatInput(0)
	if err != nil {
		return errors.New("an Embedding must read a model input (its float32 indices)")
	}
	op, err := l.IntegerOp()
	if err != nil {
		return err
	}
	out, _, err := b.Output(l.tq)
	if err != nil {
		return err
	}
	op.Inputs, op.Output = []int{x}, out
	b.AddOp(op)
	return nil
}

// wrapEmbedding replaces an Embedding node by a QuantizeEmbedding: the
// table per tensor under scheme s's weight quantizer.
func wrapEmbedding(n *transform.Node, s NBit) error {
	var e nn.EmbeddingConfig
	if err := json.Unmarshal(n.Config, &e); err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	sp := s.Weight(0)
	sp.PerAxis = false
	l, err := NewQuantizeEmbedding(EmbeddingConfig{Embedding: e, Table: sp})
	if err != nil {
		return fmt.Errorf("quantize: layer %q: %w", n.Name, err)
	}
	l.SetName(n.Name)
	n.Layer = l
	n.Type = l.Type()
	return nil
}

// indexInput reports whether model input name holds indices: every layer
// reading it is a QuantizeEmbedding (Model then inserts no QuantizeInput);
// an error if Embeddings and other layers share it.
func indexInput(g *transform.Graph, name string) (bool, error) {
	cs := g.Consumers(name)
	k := 0
	for _, c := range cs {
		if c.Type == "QuantizeEmbedding" {
			k++
		}
	}
	if k > 0 && k < len(cs) {
		return false, fmt.Errorf("quantize: input %q feeds an Embedding and other layers; give the Embedding an input of its own", name)
	}
	return k > 0, nil
}
