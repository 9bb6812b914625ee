package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// BidirectionalConfig is QuantizeBidirectional's saved configuration: the
// wrapped layer's type ("LSTM", "GRU" or "SimpleRNN") and the forward
// direction's QAT configuration (the backward one is it with GoBackwards
// flipped).
type BidirectionalConfig struct {
	Layer   string     `json:"layer"`
	Forward LSTMConfig `json:"forward"`
}

// QuantizeBidirectional is the QAT form of nn.Bidirectional (merge mode
// "concat", the only one nn has; docs/lstm.md): two QuantizeLSTM
// (QuantizeGRU, QuantizeSimpleRNN) cores, forward and backward, that share
// one output quantizer, so that their int8 outputs have one scale and the
// concatenation copies codes. The shared range is updated once per batch
// from both directions' outputs (without the padding steps). The output
// is the forward core's followed by the backward core's, the latter's
// steps put back in input order with ReturnSequences, where padding steps
// (Masking) output zeros, as nn.Bidirectional.
//
// It lowers to the two integer recurrent ops (the backward one with
// GoBackwards) and a Concatenation (the last outputs) or a
// lite.OpBidirectionalConcat (sequences: the re-reversal and the zeros);
// in inference mode, linked, it runs those ops itself, so it computes
// exactly what the converted model computes.
type QuantizeBidirectional struct {
	nn.Base
	// Cfg is the layer's configuration.
	Cfg BidirectionalConfig

	fwd, bwd *QuantizeLSTM
	oq       Quantizer // fwd's output quantizer, shared with bwd
	params   []*nn.Param
	t, u     int
	linked   bool
	float    bool // every fake quant off (tests: the float Bidirectional)

	rows, scratch []float32
	view, dview   tensor.Tensor
	qsave         []float32
	out, dx       *tensor.Tensor
	dF, dB        *tensor.Tensor
	dxs           [1]*tensor.Tensor
}

func init() {
	nn.Register("QuantizeBidirectional", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg BidirectionalConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeBidirectional %q: config: %w", name, err)
		}
		l, err := NewQuantizeBidirectional(cfg)
		if err != nil {
			return nil, fmt.Errorf("QuantizeBidirectional %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeBidirectional returns an unbuilt QuantizeBidirectional; it
// checks the layer type and what NewQuantizeLSTM checks.
func NewQuantizeBidirectional(cfg BidirectionalConfig) (*QuantizeBidirectional, error) {
	mk := func(c LSTMConfig) (*QuantizeLSTM, error) {
		switch cfg.Layer {
		case "LSTM":
			return NewQuantizeLSTM(c)
		case "GRU":
			g, err := NewQuantizeGRU(c)
			if err != nil {
				return nil, err
			}
			return &g.QuantizeLSTM, nil
		case "SimpleRNN":
			s, err := NewQuantizeSimpleRNN(c)
			if err != nil {
				return nil, err
			}
			return &s.QuantizeLSTM, nil
		}
		return nil, fmt.Errorf("wraps an LSTM, GRU or SimpleRNN, got %q", cfg.Layer)
	}
	f, err := mk(cfg.Forward)
	if err != nil {
		return nil, err
	}
	bc := cfg.Forward
	bc.LSTM.GoBackwards = !bc.LSTM.GoBackwards
	b, err := mk(bc)
	if err != nil {
		return nil, err
	}
	return &QuantizeBidirectional{Cfg: cfg, fwd: f, bwd: b}, nil
}

// SetName renames the layer and its two cores ("name/forward",
// "name/backward", as nn.Bidirectional).
func (l *QuantizeBidirectional) SetName(name string) {
	l.Base.SetName(name)
	l.fwd.SetName(name + "/forward")
	l.bwd.SetName(name + "/backward")
}

// Type returns "QuantizeBidirectional".
func (l *QuantizeBidirectional) Type() string { return "QuantizeBidirectional" }

// Config returns a BidirectionalConfig.
func (l *QuantizeBidirectional) Config() any { return l.Cfg }

// Build builds both cores on the input (T, F) and makes the backward one
// use the forward one's output quantizer; the output is (T, 2U) or (2U).
func (l *QuantizeBidirectional) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.fwd.Build(in)
	if err != nil {
		return nil, err
	}
	if _, err := l.bwd.Build(in); err != nil {
		return nil, err
	}
	own := map[*nn.Param]bool{}
	for _, p := range l.bwd.oq.Params() {
		own[p] = true
	}
	l.oq = l.fwd.oq
	l.bwd.oq = l.oq
	kept := l.bwd.params[:0]
	for _, p := range l.bwd.params {
		if !own[p] {
			kept = append(kept, p)
		}
	}
	l.bwd.params = kept
	l.t, l.u = in[0][0], l.Cfg.Forward.LSTM.Units
	l.params = l.params[:0]
	for _, side := range []struct {
		prefix string
		c      *QuantizeLSTM
	}{{"forward/", l.fwd}, {"backward/", l.bwd}} {
		for _, p := range side.c.params {
			l.params = append(l.params, &nn.Param{Name: side.prefix + p.Name, Value: p.Value, Grad: p.Grad, Trainable: p.Trainable})
		}
	}
	out = out.Clone()
	out[len(out)-1] *= 2
	return out, nil
}

// Params returns the forward core's weights, quantizers' state and cell
// range, then the backward core's (without the shared output quantizer),
// named "forward/..." and "backward/...".
func (l *QuantizeBidirectional) Params() []*nn.Param { return l.params }

// InitWeights initialises both directions, the forward one first, as
// nn.Bidirectional does.
func (l *QuantizeBidirectional) InitWeights(r *rand.Rand) {
	l.fwd.InitWeights(r)
	l.bwd.InitWeights(r)
}

// ParamCount implements nn.ParamCounter: twice a core's.
func (l *QuantizeBidirectional) ParamCount(in []tensor.Shape) int64 {
	return bounds.SatMul(2, l.fwd.ParamCount(in))
}

// Cost implements nn.Coster: both cores and the concatenation.
func (l *QuantizeBidirectional) Cost(in []tensor.Shape, out tensor.Shape) nn.Cost {
	half := out.Clone()
	half[len(half)-1] /= 2
	f, b := l.fwd.Cost(in, half), l.bwd.Cost(in, half)
	v := int64(out.Size())
	return nn.Cost{Work: bounds.SatAdd(f.Work, b.Work, v), Bytes: bounds.SatAdd(f.Bytes, b.Bytes, bounds.SatMul(4, v)),
		Fixed: bounds.SatAdd(f.Fixed, b.Fixed)}
}

// OutputQuant returns the shared output quantizer.
func (l *QuantizeBidirectional) OutputQuant() Quantizer { return l.oq }

// Link (nn.Linker) finds the quantizer of the input's codes for both
// cores' exact inference.
func (l *QuantizeBidirectional) Link(m *nn.Model) {
	l.linked = false
	for _, c := range []*QuantizeLSTM{l.fwd, l.bwd} {
		c.src, c.linked = source{}, false
	}
	in := m.Inbound(l.Name())
	if len(in) != 1 {
		return
	}
	src, ok := sourceOf(m, in[0])
	for _, c := range []*QuantizeLSTM{l.fwd, l.bwd} {
		c.src, c.linked = src, ok
	}
	l.linked = ok
}

// Forward runs both directions and merges them: in inference mode,
// linked and with every range set, the integer ops on the input's codes;
// otherwise the cores' float passes with fake quant.
// x (N, T, F) -> (N, T, 2U) or (N, 2U)
func (l *QuantizeBidirectional) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	if !c.Training && l.linked && !l.float {
		if yf := l.fwd.exactForward(x); yf != nil {
			if yb := l.bwd.exactForward(x); yb != nil {
				return l.merge(x, yf, yb)
			}
		}
	}
	cores := [2]*QuantizeLSTM{l.fwd, l.bwd}
	for _, k := range cores {
		k.kq.Forward(c, k.kernel.Value, k.wq)
		k.rq.Forward(c, k.rec.Value, k.rqv)
		k.float = l.float
		if l.float {
			copy(k.wq.Data, k.kernel.Value.Data)
			copy(k.rqv.Data, k.rec.Value.Data)
		}
	}
	if l.float {
		return l.merge(x, l.fwd.run(c, x), l.bwd.run(c, x))
	}
	if l.fwd.cellMax.Value.Data[0] == 0 || l.bwd.cellMax.Value.Data[0] == 0 || !initialised(l.oq) {
		// The first batch: the cells' and the shared output's ranges are
		// measured without fake quant, then the batch runs quantized.
		for _, k := range cores {
			k.float = true
			k.run(c, x)
			k.float = false
			if k.cellMax.Value.Data[0] == 0 {
				k.cellMax.Value.Data[0] = max(k.maxC, float32(math.SmallestNonzeroFloat32))
			}
		}
		if !initialised(l.oq) {
			l.updateOutput(&nn.Context{Training: true})
		}
	}
	yf := l.fwd.run(c, x)
	yb := l.bwd.run(c, x)
	if c.Training {
		for _, k := range cores {
			k.cellMax.Value.Data[0] = max(k.cellMax.Value.Data[0], k.maxC)
		}
		l.updateOutput(c)
	}
	return l.merge(x, yf, yb)
}

// updateOutput passes both cores' last outputs before the quantizer (the
// steps that are not padding, forward then backward) through the shared
// output quantizer in context c: in training, one update of its range
// per batch.
func (l *QuantizeBidirectional) updateOutput(c *nn.Context) {
	u := l.u
	l.rows = l.rows[:0]
	for _, k := range []*QuantizeLSTM{l.fwd, l.bwd} {
		nt := k.n * k.t
		if real := k.realSteps(); len(k.pad) > 0 {
			l.rows = append(l.rows, k.realRows[:real*u]...)
		} else {
			l.rows = append(l.rows, k.hr[:nt*u]...)
		}
	}
	if len(l.rows) == 0 { // every step padding: the carried values, as one core does
		for _, k := range []*QuantizeLSTM{l.fwd, l.bwd} {
			l.rows = append(l.rows, k.hr[:k.n*k.t*u]...)
		}
	}
	rows := len(l.rows) / u
	l.scratch = grow(l.scratch, len(l.rows))
	l.view.Shape = append(l.view.Shape[:0], rows, u)
	l.view.Data = l.rows
	l.dview.Shape = append(l.dview.Shape[:0], rows, u)
	l.dview.Data = l.scratch
	l.oq.Forward(c, &l.view, &l.dview)
}

// merge concatenates the cores' outputs yf and yb into the layer's: with
// ReturnSequences the backward core's step T-1-s at input time s, and
// zeros at padding steps (Masking).
// x (N, T, F), yf, yb (N, T, U) or (N, U) -> (N, T, 2U) or (N, 2U)
func (l *QuantizeBidirectional) merge(x, yf, yb *tensor.Tensor) *tensor.Tensor {
	n, t, u := x.Shape[0], l.t, l.u
	if !l.Cfg.Forward.LSTM.ReturnSequences {
		out := tensor.Ensure(&l.out, n, 2*u)
		for i := 0; i < n; i++ {
			copy(out.Data[i*2*u:i*2*u+u], yf.Data[i*u:(i+1)*u])
			copy(out.Data[i*2*u+u:(i+1)*2*u], yb.Data[i*u:(i+1)*u])
		}
		return out
	}
	l.fwd.padding(x)
	out := tensor.Ensure(&l.out, n, t, 2*u)
	for i := 0; i < n; i++ {
		for s := 0; s < t; s++ {
			o := out.Data[(i*t+s)*2*u : (i*t+s+1)*2*u]
			if l.fwd.padded(i, s) {
				clear(o)
				continue
			}
			copy(o[:u], yf.Data[(i*t+s)*u:(i*t+s+1)*u])
			r := t - 1 - s // the backward core's step that read input s
			copy(o[u:], yb.Data[(i*t+r)*u:(i*t+r+1)*u])
		}
	}
	return out
}

// Backward splits the gradient between the cores (none at the zeroed
// padding steps), adds their input gradients and sums the shared output
// quantizer's trainable gradients over both.
// dOut like Forward's output -> dx (N, T, F)
func (l *QuantizeBidirectional) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n, u := dOut.Shape[0], l.u
	steps := 1
	shape := []int{n, u}
	seq := l.Cfg.Forward.LSTM.ReturnSequences
	if seq {
		steps = l.t
		shape = []int{n, steps, u}
	}
	dF := tensor.Ensure(&l.dF, shape...)
	dB := tensor.Ensure(&l.dB, shape...)
	for i := 0; i < n; i++ {
		for s := 0; s < steps; s++ {
			g := dOut.Data[(i*steps+s)*2*u : (i*steps+s+1)*2*u]
			r := steps - 1 - s
			f, b := dF.Data[(i*steps+s)*u:(i*steps+s+1)*u], dB.Data[(i*steps+r)*u:(i*steps+r+1)*u]
			if seq && l.fwd.padded(i, s) {
				clear(f)
				clear(b)
				continue
			}
			copy(f, g[:u])
			copy(b, g[u:])
		}
	}
	xf := l.fwd.Backward(c, dF)[0]
	l.qsave = l.qsave[:0]
	for _, p := range l.oq.Params() {
		if p.Trainable && p.Grad != nil {
			l.qsave = append(l.qsave, p.Grad.Data...)
		}
	}
	xb := l.bwd.Backward(c, dB)[0]
	k := 0
	for _, p := range l.oq.Params() {
		if p.Trainable && p.Grad != nil {
			for i := range p.Grad.Data {
				p.Grad.Data[i] += l.qsave[k+i]
			}
			k += len(p.Grad.Data)
		}
	}
	dx := tensor.Ensure(&l.dx, xf.Shape...)
	for i, v := range xf.Data {
		dx.Data[i] = v + xb.Data[i]
	}
	l.dxs[0] = dx
	return l.dxs[:]
}

// Lower converts the layer to its integer ops on the input's int8 tensor:
// the forward and backward recurrent ops, each writing a tensor at the
// shared output quantizer's scale, and their merge (see the type).
func (l *QuantizeBidirectional) Lower(b Lowering) error {
	x, err := b.Input(0)
	if err != nil {
		return err
	}
	tin := b.Tensor(x)
	var ops [2]lite.Op
	for i, c := range []*QuantizeLSTM{l.fwd, l.bwd} {
		if ops[i], err = c.IntegerOp(tin.Scale, tin.ZeroPoint); err != nil {
			return err
		}
	}
	out, _, err := b.Output(l.oq)
	if err != nil {
		return err
	}
	to := b.Tensor(out)
	if len(to.Shape) == 0 {
		return errors.New("QuantizeBidirectional: scalar output")
	}
	var halves [2]int
	for i, op := range ops {
		t := to
		t.Name = op.Name
		t.Shape = to.Shape.Clone()
		t.Shape[len(t.Shape)-1] = l.u
		halves[i] = b.AddTensor(t)
		op.Inputs, op.Output = []int{x}, halves[i]
		b.AddOp(op)
	}
	merge := lite.Op{Type: lite.OpConcatenation, Name: l.Name(), Inputs: halves[:], Output: out}
	if l.Cfg.Forward.LSTM.ReturnSequences {
		merge.Type = lite.OpBidirectionalConcat
		if l.Cfg.Forward.LSTM.Masking {
			merge.Inputs = append(merge.Inputs, x)
		}
	}
	b.AddOp(merge)
	return nil
}

// wrapBidirectionalConfig returns the QuantizeBidirectional configuration
// of an nn.Bidirectional's saved config under scheme s (the wrapped
// layer's, as wrapLSTMConfig).
func wrapBidirectionalConfig(raw json.RawMessage, s NBit) (BidirectionalConfig, error) {
	var bc nn.BidirectionalConfig
	if err := json.Unmarshal(raw, &bc); err != nil {
		return BidirectionalConfig{}, err
	}
	if bc.MergeMode != "concat" {
		return BidirectionalConfig{}, fmt.Errorf("Bidirectional merge_mode %q: only \"concat\" quantizes", bc.MergeMode)
	}
	f, err := wrapLSTMConfig(bc.Layer.Config, s)
	if err != nil {
		return BidirectionalConfig{}, err
	}
	return BidirectionalConfig{Layer: bc.Layer.ClassName, Forward: f}, nil
}
