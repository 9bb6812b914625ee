package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// LSTMConfig is QuantizeLSTM's saved configuration: the LSTM's options
// and the specs of the kernel's, the recurrent kernel's and the output's
// quantizers.
type LSTMConfig struct {
	LSTM      nn.RecurrentOptions `json:"lstm"`
	Kernel    Spec                `json:"kernel_quantizer"`
	Recurrent Spec                `json:"recurrent_quantizer"`
	Output    Spec                `json:"output_quantizer"`
}

// QuantizeLSTM is the QAT form of nn.LSTM (docs/lstm.md): fake quant sits
// where the integer LSTM (lite/lstm.go) rounds. The kernels are
// fake-quantized per gate column (the output unit of each gate), or with
// one scale per gate matrix (Spec.GroupSize U, NBit.PerGate); the
// input projection x W + b and the recurrent product h Ur are each rounded
// to Q3.12 (int16, scale 2^-12, clamped to [-8, 8)) and their sum clamped;
// the gate activations are rounded to Q0.15; f c and i g are each rounded
// to the cell's power-of-two grid 2^E and their sum clamped to its int16
// range; tanh of the cell (its input clamped to [-8, 8)) is rounded to
// Q0.15; o tanh(c) goes through the output quantizer (int8), whose codes
// are also the next step's recurrent input. E follows the largest |c|
// seen (a running maximum, "cell_quant_max"). Gradients are
// straight-through inside every range and zero where a value was clamped.
//
// In training the output quantizer's range and the cell's are updated once
// per batch from every step's values (the first batch measures them
// without fake quant first). In inference mode a linked layer (its
// input's quantizer found, see Link) runs the integer LSTM itself on the
// input's codes, so it computes exactly what the converted model
// computes. QuantizeGRU and QuantizeSimpleRNN are this type with the
// GRU's and SimpleRNN's gates.
//
// Masking (nn's, docs/DESIGN.md, Sequence layers): a step whose input
// features are all exactly zero is padding. The input is the fake-quantized
// output of the layer before, and zero is exactly representable, so a
// value is zero exactly when its code is the zero point: the integer op's
// test (lite.Op.Masking), which the exact inference runs. A padding step
// runs no cell: h, c and the output are carried over, its values are left
// out of the output's and the cell's ranges, and the gradient of its state
// passes to the previous step unchanged.
type QuantizeLSTM struct {
	nn.Base
	// Cfg is the layer's configuration.
	Cfg LSTMConfig

	inner      rnnInner // nn.LSTM or nn.SimpleRNN
	gates      int      // 4 (LSTM: i, f, c, o) or 1 (SimpleRNN)
	kernel     *nn.Param
	rec        *nn.Param
	bias       *nn.Param // nil without UseBias
	kq, rq, oq Quantizer
	cellMax    *nn.Param // LSTM (1): the largest |c| seen; 0 before the first batch
	params     []*nn.Param
	t, f, u    int
	src        source // the input's quantizer (set by Link)
	linked     bool
	float      bool // every fake quant off (tests: the float LSTM)

	n                     int
	x                     *tensor.Tensor
	wq, rqv               *tensor.Tensor // fake-quantized kernels
	px, pxq               []float32      // (N*T, 4U) by input time: x W + b, rounded
	pr, prq               []float32      // (T, N, 4U) by step: h Ur, rounded
	a                     []float32      // (T, N, 4U): the gates' activations
	csum, cq, tc, hr, hs  []float32      // (T, N, U) by step
	hprev                 []float32      // (T, N, U): the recurrent input of each step
	dpx, dpr, dh, dc, dhr []float32
	out, dx               *tensor.Tensor
	view, dview           tensor.Tensor
	gridZ, gridA, gridC   fq
	cellE                 int
	maxC                  float32
	scratch, qgrad        []float32
	xq                    []int8
	dxs                   [1]*tensor.Tensor
	pad                   []bool    // Masking: (N*T) by input time, a padding step
	dkeep                 []float32 // Masking: (N, U), padding rows' dh across a step
	realRows              []float32 // Masking: (N*T, U), the outputs of the steps that are not padding
}

func init() {
	nn.Register("QuantizeLSTM", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg LSTMConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("QuantizeLSTM %q: config: %w", name, err)
		}
		l, err := NewQuantizeLSTM(cfg)
		if err != nil {
			return nil, fmt.Errorf("QuantizeLSTM %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewQuantizeLSTM returns an unbuilt QuantizeLSTM; it checks the specs
// (weights symmetric, the output per tensor) and the options.
func NewQuantizeLSTM(cfg LSTMConfig) (*QuantizeLSTM, error) {
	if cfg.LSTM.Units <= 0 {
		return nil, fmt.Errorf("units must be positive, got %d", cfg.LSTM.Units)
	}
	for _, s := range []struct {
		what string
		sp   Spec
	}{{"kernel", cfg.Kernel}, {"recurrent kernel", cfg.Recurrent}, {"output", cfg.Output}} {
		if err := s.sp.Validate(); err != nil {
			return nil, fmt.Errorf("%s quantizer: %w", s.what, err)
		}
	}
	if !cfg.Kernel.Symmetric || !cfg.Recurrent.Symmetric {
		return nil, errors.New("the kernels' quantizers must be symmetric")
	}
	if cfg.Output.PerAxis {
		return nil, errors.New("the output quantizer must be per tensor")
	}
	return &QuantizeLSTM{Cfg: cfg, inner: &nn.LSTM{RecurrentOptions: cfg.LSTM}, gates: 4}, nil
}

// rnnInner is the float layer a QuantizeLSTM or QuantizeSimpleRNN holds
// the weights of.
type rnnInner interface {
	nn.Layer
	InitWeights(r *rand.Rand)
	ParamCount(in []tensor.Shape) int64
	Cost(in []tensor.Shape, out tensor.Shape) nn.Cost
}

// SetName renames the layer and the inner LSTM.
func (l *QuantizeLSTM) SetName(name string) {
	l.Base.SetName(name)
	l.inner.SetName(name)
}

// Type returns "QuantizeLSTM".
func (l *QuantizeLSTM) Type() string { return "QuantizeLSTM" }

// Config returns an LSTMConfig.
func (l *QuantizeLSTM) Config() any { return l.Cfg }

// Build builds the LSTM's weights (an nn.LSTM's: kernel, recurrent_kernel,
// bias) and the quantizers.
func (l *QuantizeLSTM) Build(in []tensor.Shape) (tensor.Shape, error) {
	out, err := l.inner.Build(in)
	if err != nil {
		return nil, err
	}
	switch x := l.inner.(type) {
	case *nn.LSTM:
		l.kernel, l.rec, l.bias = x.Kernel, x.RecurrentKernel, x.Bias
	case *nn.SimpleRNN:
		l.kernel, l.rec, l.bias = x.Kernel, x.RecurrentKernel, x.Bias
	case *nn.GRU:
		l.kernel, l.rec, l.bias = x.Kernel, x.RecurrentKernel, x.Bias
	}
	l.t, l.f, l.u = in[0][0], in[0][1], l.Cfg.LSTM.Units
	l.params = append([]*nn.Param(nil), l.inner.Params()...)
	mk := func(sp Spec, prefix string, shape tensor.Shape) (Quantizer, error) {
		q, err := sp.New()
		if err != nil {
			return nil, err
		}
		if err := q.Build(prefix, shape); err != nil {
			return nil, fmt.Errorf("QuantizeLSTM %q: %s: %w", l.Name(), prefix, err)
		}
		l.params = append(l.params, q.Params()...)
		return q, nil
	}
	if l.kq, err = mk(l.Cfg.Kernel, "kernel_quant", l.kernel.Value.Shape); err != nil {
		return nil, err
	}
	if l.rq, err = mk(l.Cfg.Recurrent, "recurrent_kernel_quant", l.rec.Value.Shape); err != nil {
		return nil, err
	}
	if l.oq, err = mk(l.Cfg.Output, "output_quant", tensor.Shape{l.u}); err != nil {
		return nil, err
	}
	l.cellMax = nn.NewParam("cell_quant_max", false, 1)
	if l.gates == 4 {
		l.params = append(l.params, l.cellMax)
	} else {
		l.cellMax.Value.Data[0] = 1 // no cell: never measured
	}
	l.wq = tensor.New(l.kernel.Value.Shape...)
	l.rqv = tensor.New(l.rec.Value.Shape...)
	l.gridZ = newFQ(float32(math.Ldexp(1, -lite.GateFracBits)), 0, math.MinInt16, math.MaxInt16)
	l.gridA = newFQ(float32(math.Ldexp(1, -lite.ActFracBits)), 0, math.MinInt16, math.MaxInt16)
	return out, nil
}

// Params returns the LSTM's weights, then the quantizers' state and the
// cell's range.
func (l *QuantizeLSTM) Params() []*nn.Param { return l.params }

// InitWeights initialises the weights as nn.LSTM does.
func (l *QuantizeLSTM) InitWeights(r *rand.Rand) { l.inner.InitWeights(r) }

// ParamCount implements nn.ParamCounter: the LSTM's weights and the
// quantizers' state.
func (l *QuantizeLSTM) ParamCount(in []tensor.Shape) int64 {
	gu := bounds.SatMul(int64(l.gates), int64(l.Cfg.LSTM.Units))
	return bounds.SatAdd(l.inner.ParamCount(in), bounds.SatMul(3, gu), 16)
}

// Cost implements nn.Coster: the LSTM's cost, the fake-quantized kernels'
// copies and the buffers training keeps per sample (about five times the
// float LSTM's).
func (l *QuantizeLSTM) Cost(in []tensor.Shape, out tensor.Shape) nn.Cost {
	c := l.inner.Cost(in, out)
	c.Work = bounds.SatMul(c.Work, 3)
	c.Bytes = bounds.SatMul(c.Bytes, 5)
	k := bounds.SatMul(int64(l.gates), int64(l.Cfg.LSTM.Units))
	if len(in) == 1 && len(in[0]) == 2 {
		k = bounds.SatMul(k, int64(in[0][1])+int64(l.Cfg.LSTM.Units))
	}
	c.Fixed = bounds.SatAdd(c.Fixed, bounds.SatMul(8, k))
	return c
}

// OutputQuant returns the output quantizer.
func (l *QuantizeLSTM) OutputQuant() Quantizer { return l.oq }

// Link (nn.Linker) finds the quantizer of the input's codes, which the
// exact inference needs.
func (l *QuantizeLSTM) Link(m *nn.Model) {
	l.src, l.linked = source{}, false
	in := m.Inbound(l.Name())
	if len(in) != 1 {
		return
	}
	l.src, l.linked = sourceOf(m, in[0])
}

// CellExponent returns the exponent E of the cell state's scale 2^E that
// the current range gives: the smallest power of two 2^p >= the largest
// |c| seen (p at least 3), E = p - 15, within lite's bounds.
func (l *QuantizeLSTM) CellExponent() int {
	return cellExponent(l.cellMax.Value.Data[0])
}

// cellExponent is CellExponent for a largest |c| of m.
func cellExponent(m float32) int {
	p := 3
	if m > 8 {
		frac, exp := math.Frexp(float64(m))
		p = exp
		if frac == 0.5 {
			p--
		}
	}
	return min(max(p-15, lite.MinCellExponent), lite.MaxCellExponent)
}

// Forward runs the sequence: in inference mode, linked and with every
// range set, the integer LSTM on the input's codes; otherwise the float
// LSTM with its fake quant.
// x (N, T, F) -> (N, T, U) or (N, U)
func (l *QuantizeLSTM) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	if !c.Training && !l.float {
		if y := l.exactForward(x); y != nil {
			return y
		}
	}
	l.kq.Forward(c, l.kernel.Value, l.wq)
	l.rq.Forward(c, l.rec.Value, l.rqv)
	if l.float {
		copy(l.wq.Data, l.kernel.Value.Data)
		copy(l.rqv.Data, l.rec.Value.Data)
	}
	if !l.float && (l.cellMax.Value.Data[0] == 0 || !initialised(l.oq)) {
		// The first batch: the cell's and the output's ranges are
		// measured without fake quant, then the batch runs quantized.
		l.float = true
		l.run(c, x)
		l.float = false
		if l.cellMax.Value.Data[0] == 0 {
			l.cellMax.Value.Data[0] = max(l.maxC, float32(math.SmallestNonzeroFloat32))
		}
		if !initialised(l.oq) {
			l.updateOutput(&nn.Context{Training: true})
		}
	}
	y := l.run(c, x)
	if c.Training && !l.float {
		l.cellMax.Value.Data[0] = max(l.cellMax.Value.Data[0], l.maxC)
		l.updateOutput(c)
	}
	return y
}

// updateOutput passes the last run's o*tanh(c) of every step, (T*N, U),
// through the output quantizer in context c: in training, one update of
// its range per batch.
func (l *QuantizeLSTM) updateOutput(c *nn.Context) {
	nt := l.n * l.t
	l.view.Shape = append(l.view.Shape[:0], nt, l.u)
	l.view.Data = l.hr[:nt*l.u]
	l.scratch = grow(l.scratch, nt*l.u)
	if real := l.realSteps(); real > 0 && real < nt {
		// Masking: the padding steps' carried values are left out.
		l.view.Shape[0], l.view.Data, nt = real, l.realRows[:real*l.u], real
	}
	l.dview.Shape = append(l.dview.Shape[:0], nt, l.u)
	l.dview.Data = l.scratch[:nt*l.u]
	l.oq.Forward(c, &l.view, &l.dview)
}

// run is the float forward pass with fake quant (all of it off with
// l.float), the output quantizer's range frozen (Forward updates it once
// per batch afterwards).
func (l *QuantizeLSTM) run(c *nn.Context, x *tensor.Tensor) *tensor.Tensor {
	n, t, f, u := x.Shape[0], l.t, l.f, l.u
	gu := l.gates * u
	if len(x.Shape) != 3 || x.Shape[1] != t || x.Shape[2] != f {
		panic(fmt.Sprintf("QuantizeLSTM %q: input shape %v, built for (N, %d, %d)", l.Name(), x.Shape, t, f))
	}
	l.n, l.x = n, x
	nt := n * t
	l.padding(x)
	l.cellE = l.CellExponent()
	cs := float32(math.Ldexp(1, l.cellE))
	l.gridC = newFQ(cs, 0, math.MinInt16, math.MaxInt16)
	l.px = grow(l.px, nt*gu)
	l.pxq = grow(l.pxq, nt*gu)
	kernels.Sgemm(false, false, nt, gu, f, 1, x.Data, f, l.wq.Data, gu, 0, l.px, gu)
	if b := l.bias; b != nil {
		for r := 0; r < nt; r++ {
			row := l.px[r*gu : (r+1)*gu]
			for j, v := range b.Value.Data[:gu] {
				row[j] += v
			}
		}
	}
	l.fqApply(l.gridZ, l.px, l.pxq)
	for _, p := range []*[]float32{&l.pr, &l.prq, &l.a} {
		*p = grow(*p, nt*gu)
	}
	for _, p := range []*[]float32{&l.csum, &l.cq, &l.tc, &l.hr, &l.hs, &l.hprev} {
		*p = grow(*p, nt*u)
	}
	clear(l.hprev[:n*u])
	l.maxC = 0
	ctx := *c
	ctx.Training = false
	zlo, zhi := l.gridZ.lo*l.gridZ.scale, l.gridZ.hi*l.gridZ.scale
	clo, chi := l.gridC.lo*l.gridC.scale, l.gridC.hi*l.gridC.scale
	for s := 0; s < t; s++ {
		ti := s
		if l.Cfg.LSTM.GoBackwards {
			ti = t - 1 - s
		}
		pr, prq := l.pr[s*n*gu:(s+1)*n*gu], l.prq[s*n*gu:(s+1)*n*gu]
		if s > 0 {
			copy(l.hprev[s*n*u:(s+1)*n*u], l.hs[(s-1)*n*u:s*n*u])
			kernels.Sgemm(false, false, n, gu, u, 1, l.hprev[s*n*u:], u, l.rqv.Data, gu, 0, pr, gu)
		} else {
			clear(pr)
		}
		if b := l.bias; b != nil && l.gates == 3 {
			// GRU: the recurrent bias is inside the recurrent term.
			for i := 0; i < n; i++ {
				row := pr[i*gu : (i+1)*gu]
				for j, v := range b.Value.Data[gu : 2*gu] {
					row[j] += v
				}
			}
		}
		l.fqApply(l.gridZ, pr, prq)
		a := l.a[s*n*gu : (s+1)*n*gu]
		if l.gates == 3 {
			l.gruStep(s, ti, n, pr, prq, a)
			l.outputStep(&ctx, s, n)
			continue
		}
		csum, cq, tc, hr := l.csum[s*n*u:(s+1)*n*u], l.cq[s*n*u:(s+1)*n*u], l.tc[s*n*u:(s+1)*n*u], l.hr[s*n*u:(s+1)*n*u]
		for i := 0; i < n; i++ {
			if l.padded(i, ti) {
				l.carry(s, i)
				continue
			}
			pxr := l.pxq[(i*t+ti)*gu : (i*t+ti+1)*gu]
			ar := a[i*gu : (i+1)*gu]
			for j := range ar {
				z := pxr[j] + prq[i*gu+j]
				if !l.float {
					z = min(max(z, zlo), zhi)
				}
				if l.gates == 1 || j >= 2*u && j < 3*u {
					ar[j] = float32(math.Tanh(float64(z)))
				} else {
					ar[j] = float32(qmath.Sigmoid(float64(z)))
				}
			}
			l.fqApply(l.gridA, ar, ar)
			if l.gates == 1 {
				copy(hr[i*u:(i+1)*u], ar) // h = tanh(z), then the output quantizer
				continue
			}
			for j := 0; j < u; j++ {
				ig, fg, gg, og := ar[j], ar[u+j], ar[2*u+j], ar[3*u+j]
				var fc float32
				if s > 0 {
					fc = fg * l.cq[((s-1)*n+i)*u+j]
				}
				ig2 := ig * gg
				if !l.float {
					fc, ig2 = l.gridC.round(fc)*l.gridC.scale, l.gridC.round(ig2)*l.gridC.scale
				}
				sum := fc + ig2
				k := i*u + j
				csum[k] = sum
				l.maxC = max(l.maxC, float32(math.Abs(float64(sum))))
				cv := sum
				if !l.float {
					cv = min(max(cv, clo), chi)
				}
				cq[k] = cv
				ct := cv
				if !l.float {
					ct = min(max(ct, zlo), zhi)
				}
				th := float32(math.Tanh(float64(ct)))
				if !l.float {
					th = l.gridA.round(th) * l.gridA.scale
				}
				tc[k] = th
				hr[k] = og * th
			}
		}
		l.outputStep(&ctx, s, n)
	}
	return l.output(l.hs, n)
}

// outputStep passes step s's o*tanh(c) (tanh(z), the GRU's blend) through
// the output quantizer (frozen, ctx) into the step's states.
func (l *QuantizeLSTM) outputStep(ctx *nn.Context, s, n int) {
	u := l.u
	hr, hs := l.hr[s*n*u:(s+1)*n*u], l.hs[s*n*u:(s+1)*n*u]
	if l.float {
		copy(hs, hr)
	} else {
		l.view.Shape = append(l.view.Shape[:0], n, u)
		l.view.Data = hr
		l.dview.Shape = append(l.dview.Shape[:0], n, u)
		l.dview.Data = hs
		l.oq.Forward(ctx, &l.view, &l.dview)
	}
	for i := 0; i < n && len(l.pad) > 0; i++ {
		if !l.padded(i, l.inputTime(s)) {
			continue
		}
		// Padding: the previous output itself (zero before the first
		// step), not its copy through the quantizer.
		h := hs[i*u : (i+1)*u]
		if s == 0 {
			clear(h)
		} else {
			copy(h, l.hs[((s-1)*n+i)*u:((s-1)*n+i+1)*u])
		}
	}
}

// realSteps gathers the last run's o*tanh(c) of the steps that are not
// padding into l.realRows, (real, U), and returns their number (all the
// steps without Masking, and then nothing is copied).
func (l *QuantizeLSTM) realSteps() int {
	n, t, u := l.n, l.t, l.u
	if len(l.pad) == 0 {
		return n * t
	}
	l.realRows = grow(l.realRows, n*t*u)
	real := 0
	for s := 0; s < t; s++ {
		ti := l.inputTime(s)
		for i := 0; i < n; i++ {
			if l.padded(i, ti) {
				continue
			}
			copy(l.realRows[real*u:(real+1)*u], l.hr[(s*n+i)*u:(s*n+i+1)*u])
			real++
		}
	}
	return real
}

// inputTime returns the input time of step s.
func (l *QuantizeLSTM) inputTime(s int) int {
	if l.Cfg.LSTM.GoBackwards {
		return l.t - 1 - s
	}
	return s
}

// padding sets l.pad from x (N, T, F) with Masking (a step whose features
// are all exactly zero), or empties it.
func (l *QuantizeLSTM) padding(x *tensor.Tensor) {
	l.pad = l.pad[:0]
	if !l.Cfg.LSTM.Masking {
		return
	}
	f := l.f
	l.pad = grow(l.pad, x.Shape[0]*l.t)
	for r := range l.pad {
		pad := true
		for _, v := range x.Data[r*f : (r+1)*f] {
			if v != 0 {
				pad = false
				break
			}
		}
		l.pad[r] = pad
	}
}

// padded reports whether sample i's step at input time ti is padding.
func (l *QuantizeLSTM) padded(i, ti int) bool {
	return len(l.pad) > 0 && l.pad[i*l.t+ti]
}

// carry is a padding step s of sample i: the output before its quantizer
// (hr) and the LSTM's cell (cq) are the previous step's, zero before the
// first.
func (l *QuantizeLSTM) carry(s, i int) {
	n, u := l.n, l.u
	k := (s*n + i) * u
	bufs := [][]float32{l.hr}
	if l.gates == 4 {
		bufs = append(bufs, l.cq)
	}
	for _, b := range bufs {
		if s == 0 {
			clear(b[k : k+u])
		} else {
			copy(b[k:k+u], b[k-n*u:k])
		}
	}
}

// gruStep is the GRU's step s (input time ti) on the batch: the gates z
// and r from the clamped sums, the reset applied to the rounded recurrent
// h term (rounded to Q3.12 again: csum holds it raw, cq rounded), the
// candidate n from the clamped sum, and the blend z h + (1 - z) n into hr.
// a (N, 3U) receives z, r, n.
func (l *QuantizeLSTM) gruStep(s, ti, n int, pr, prq, a []float32) {
	t, u := l.t, l.u
	gu := 3 * u
	zlo, zhi := l.gridZ.lo*l.gridZ.scale, l.gridZ.hi*l.gridZ.scale
	clampZ := func(v float32) float32 {
		if l.float {
			return v
		}
		return min(max(v, zlo), zhi)
	}
	for i := 0; i < n; i++ {
		if l.padded(i, ti) {
			l.carry(s, i)
			continue
		}
		pxr := l.pxq[(i*t+ti)*gu : (i*t+ti+1)*gu]
		pq := prq[i*gu : (i+1)*gu]
		ar := a[i*gu : (i+1)*gu]
		for j := 0; j < 2*u; j++ {
			ar[j] = float32(qmath.Sigmoid(float64(clampZ(pxr[j] + pq[j]))))
		}
		l.fqApply(l.gridA, ar[:2*u], ar[:2*u])
		raw, rq := l.csum[(s*n+i)*u:(s*n+i+1)*u], l.cq[(s*n+i)*u:(s*n+i+1)*u]
		for j := 0; j < u; j++ {
			raw[j] = ar[u+j] * pq[2*u+j]
		}
		l.fqApply(l.gridZ, raw, rq)
		for j := 0; j < u; j++ {
			ar[2*u+j] = float32(math.Tanh(float64(clampZ(pxr[2*u+j] + rq[j]))))
		}
		l.fqApply(l.gridA, ar[2*u:], ar[2*u:])
		hp := l.hprev[(s*n+i)*u : (s*n+i+1)*u]
		hr := l.hr[(s*n+i)*u : (s*n+i+1)*u]
		for j := 0; j < u; j++ {
			z := ar[j]
			hr[j] = z*hp[j] + (1-z)*ar[2*u+j]
		}
	}
}

// output gathers the step-major states hs (T, N, U) into the layer's
// output.
func (l *QuantizeLSTM) output(hs []float32, n int) *tensor.Tensor {
	t, u := l.t, l.u
	if l.Cfg.LSTM.ReturnSequences {
		out := tensor.Ensure(&l.out, n, t, u)
		for s := 0; s < t; s++ {
			for i := 0; i < n; i++ {
				copy(out.Data[(i*t+s)*u:(i*t+s+1)*u], hs[(s*n+i)*u:(s*n+i+1)*u])
			}
		}
		return out
	}
	out := tensor.Ensure(&l.out, n, u)
	copy(out.Data, hs[(t-1)*n*u:t*n*u])
	return out
}

// fqApply fake-quantizes x into y with p, or copies with l.float.
func (l *QuantizeLSTM) fqApply(p fq, x, y []float32) {
	if l.float {
		copy(y, x)
		return
	}
	p.apply(x, y)
}

// inside reports whether x lies in p's range (the straight-through
// gradient passes), always with l.float.
func (l *QuantizeLSTM) inside(p fq, x float32) bool {
	if l.float {
		return true
	}
	v := x * p.inv
	return v >= p.lo && v <= p.hi
}

// Backward is backpropagation through time with straight-through
// gradients (zero where a value was clamped).
// dOut like Forward's output -> dx (N, T, F)
func (l *QuantizeLSTM) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n, t, f, u := l.n, l.t, l.f, l.u
	gu := l.gates * u
	nt := n * t
	l.dpx = grow(l.dpx, nt*gu)
	l.dpr = grow(l.dpr, nt*gu)
	l.dh = grow(l.dh, n*u)
	l.dc = grow(l.dc, n*u)
	l.dhr = grow(l.dhr, n*u)
	clear(l.dh)
	clear(l.dc)
	zlo, zhi := l.gridZ.lo*l.gridZ.scale, l.gridZ.hi*l.gridZ.scale
	for s := t - 1; s >= 0; s-- {
		ti := s
		if l.Cfg.LSTM.GoBackwards {
			ti = t - 1 - s
		}
		for i := 0; i < n; i++ {
			var g []float32
			switch {
			case l.Cfg.LSTM.ReturnSequences:
				g = dOut.Data[(i*t+s)*u : (i*t+s+1)*u]
			case s == t-1:
				g = dOut.Data[i*u : (i+1)*u]
			}
			for j, v := range g {
				l.dh[i*u+j] += v
			}
		}
		l.keepPadded(ti, false)
		hr := l.hr[s*n*u : (s+1)*n*u]
		if l.float {
			copy(l.dhr, l.dh)
		} else {
			l.view.Shape = append(l.view.Shape[:0], n, u)
			l.view.Data = hr
			l.dview.Shape = append(l.dview.Shape[:0], n, u)
			l.dview.Data = l.dh
			dv := tensor.Tensor{Shape: l.view.Shape, Data: l.dhr}
			l.oq.Backward(c, &l.view, &l.dview, &dv)
			l.sumQuantGrads(s == t-1)
		}
		a := l.a[s*n*gu : (s+1)*n*gu]
		prRaw, prq := l.pr[s*n*gu:(s+1)*n*gu], l.prq[s*n*gu:(s+1)*n*gu]
		dpr := l.dpr[s*n*gu : (s+1)*n*gu]
		for i := 0; i < n; i++ {
			ar := a[i*gu : (i+1)*gu]
			r := i*t + ti
			dpx := l.dpx[r*gu : (r+1)*gu]
			if l.padded(i, ti) {
				// No cell ran: no gate gradients.
				clear(dpx)
				clear(dpr[i*gu : (i+1)*gu])
				continue
			}
			if l.gates == 3 {
				l.gruGrads(s, i, r, ar, prRaw[i*gu:(i+1)*gu], prq[i*gu:(i+1)*gu], dpx, dpr[i*gu:(i+1)*gu])
				continue
			}
			var dz [4]float32
			for j := 0; j < u; j++ {
				k := i*u + j
				if l.gates == 1 {
					// h = tanh(z).
					dz[0] = l.dhr[k] * (1 - ar[j]*ar[j])
					l.gateGrads(dz[:1], j, u, l.pxq[r*gu:], prq[i*gu:], l.px[r*gu:], prRaw[i*gu:], dpx, dpr[i*gu:])
					continue
				}
				ig, fg, gg, og := ar[j], ar[u+j], ar[2*u+j], ar[3*u+j]
				th := l.tc[s*n*u+k]
				cv := l.cq[s*n*u+k]
				dhr := l.dhr[k]
				do := dhr * th
				dct := dhr * og * (1 - th*th)
				if !l.float && (cv < zlo || cv > zhi) {
					dct = 0
				}
				dcs := l.dc[k] + dct
				if !l.inside(l.gridC, l.csum[s*n*u+k]) {
					dcs = 0
				}
				var cp float32
				if s > 0 {
					cp = l.cq[(s-1)*n*u+k]
				}
				dz[0] = dcs * gg * ig * (1 - ig)
				dz[1] = dcs * cp * fg * (1 - fg)
				dz[2] = dcs * ig * (1 - gg*gg)
				dz[3] = do * og * (1 - og)
				l.dc[k] = dcs * fg
				l.gateGrads(dz[:], j, u, l.pxq[r*gu:], prq[i*gu:], l.px[r*gu:], prRaw[i*gu:], dpx, dpr[i*gu:])
			}
		}
		if s > 0 {
			kernels.Sgemm(false, true, n, u, gu, 1, dpr, gu, l.rqv.Data, gu, 0, l.dh, u)
			if l.gates == 3 {
				// The GRU's blend reads h_{s-1} directly too.
				for k, v := range l.dc[:n*u] {
					l.dh[k] += v
				}
			}
			l.keepPadded(ti, true)
		} else {
			clear(l.dh)
		}
	}
	k, r := l.kernel, l.rec
	kernels.Sgemm(true, false, f, gu, nt, 1, l.x.Data, f, l.dpx, gu, 0, k.Grad.Data, gu)
	kernels.Sgemm(true, false, u, gu, nt, 1, l.hprev, u, l.dpr, gu, 0, r.Grad.Data, gu)
	if b := l.bias; b != nil {
		db := b.Grad.Data
		clear(db)
		for row := 0; row < nt; row++ {
			for j, v := range l.dpx[row*gu : (row+1)*gu] {
				db[j] += v
			}
		}
		if l.gates == 3 {
			for row := 0; row < nt; row++ {
				for j, v := range l.dpr[row*gu : (row+1)*gu] {
					db[gu+j] += v
				}
			}
		}
	}
	dx := tensor.Ensure(&l.dx, n, t, f)
	kernels.Sgemm(false, true, nt, f, gu, 1, l.dpx, gu, l.wq.Data, gu, 0, dx.Data, f)
	if !l.float {
		l.setQuantGrads()
		l.kq.Backward(c, k.Value, k.Grad, k.Grad)
		l.rq.Backward(c, r.Value, r.Grad, r.Grad)
	}
	l.dxs[0] = dx
	return l.dxs[:]
}

// keepPadded moves the state gradient of the padding rows at input time
// ti around the step's backward: out of dh into l.dkeep (restore false:
// the step's output quantizer and cell see none), then back (restore
// true: it reaches the previous state unchanged).
func (l *QuantizeLSTM) keepPadded(ti int, restore bool) {
	if len(l.pad) == 0 {
		return
	}
	u := l.u
	l.dkeep = grow(l.dkeep, l.n*u)
	for i := 0; i < l.n; i++ {
		if !l.padded(i, ti) {
			continue
		}
		dh, keep := l.dh[i*u:(i+1)*u], l.dkeep[i*u:(i+1)*u]
		if restore {
			copy(dh, keep)
		} else {
			copy(keep, dh)
			clear(dh)
		}
	}
}

// gruGrads is the GRU's step backward for sample i at step s (input row
// r): from dhr (the gradient of the blend) to the gradients of the input
// projection dpx and the recurrent term dpr (3U each), and in l.dc the
// part that reaches h_{s-1} directly (z dh).
func (l *QuantizeLSTM) gruGrads(s, i, r int, ar, prRaw, prq, dpx, dpr []float32) {
	n, u := l.n, l.u
	gu := 3 * u
	zlo, zhi := l.gridZ.lo*l.gridZ.scale, l.gridZ.hi*l.gridZ.scale
	pxq, px := l.pxq[r*gu:(r+1)*gu], l.px[r*gu:(r+1)*gu]
	hp := l.hprev[(s*n+i)*u : (s*n+i+1)*u]
	raw, rq := l.csum[(s*n+i)*u:(s*n+i+1)*u], l.cq[(s*n+i)*u:(s*n+i+1)*u]
	var dz [2]float32
	for j := 0; j < u; j++ {
		k := i*u + j
		g := l.dhr[k]
		z, rg, nc := ar[j], ar[u+j], ar[2*u+j]
		l.dc[k] = g * z
		dn := g * (1 - z) * (1 - nc*nc)
		if zs := pxq[2*u+j] + rq[j]; !l.float && (zs < zlo || zs > zhi) {
			dn = 0
		}
		col := 2*u + j
		dpx[col] = 0
		if l.inside(l.gridZ, px[col]) {
			dpx[col] = dn
		}
		drq := dn
		if !l.inside(l.gridZ, raw[j]) {
			drq = 0
		}
		dpr[col] = 0
		if l.inside(l.gridZ, prRaw[col]) {
			dpr[col] = drq * rg
		}
		dz[0] = g * (hp[j] - nc) * z * (1 - z)
		dz[1] = drq * prq[col] * rg * (1 - rg)
		l.gateGrads(dz[:], j, u, pxq, prq, px, prRaw, dpx, dpr)
	}
}

// gateGrads writes the gradients of unit j's gate columns (q*u+j for the
// gradients dz[q] of the gate pre-activations) to the input projection
// and the recurrent product of one sample: zero where the clamped sum or
// the rounded term left its range (pxq, prq rounded, px, pr raw).
func (l *QuantizeLSTM) gateGrads(dz []float32, j, u int, pxq, prq, px, pr, dpx, dpr []float32) {
	zlo, zhi := l.gridZ.lo*l.gridZ.scale, l.gridZ.hi*l.gridZ.scale
	for q, d := range dz {
		col := q*u + j
		if zs := pxq[col] + prq[col]; !l.float && (zs < zlo || zs > zhi) {
			d = 0
		}
		dpx[col], dpr[col] = 0, 0
		if l.inside(l.gridZ, px[col]) {
			dpx[col] = d
		}
		if l.inside(l.gridZ, pr[col]) {
			dpr[col] = d
		}
	}
}

// sumQuantGrads adds the output quantizer's trainable gradients (LSQ's
// step size) of one step into l.qgrad, which first clears.
func (l *QuantizeLSTM) sumQuantGrads(first bool) {
	k := 0
	for _, p := range l.oq.Params() {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		l.qgrad = grow(l.qgrad, k+len(p.Grad.Data))
		for i, v := range p.Grad.Data {
			if first {
				l.qgrad[k+i] = 0
			}
			l.qgrad[k+i] += v
		}
		k += len(p.Grad.Data)
	}
}

// setQuantGrads sets the output quantizer's trainable gradients to the
// sums over the steps.
func (l *QuantizeLSTM) setQuantGrads() {
	k := 0
	for _, p := range l.oq.Params() {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		copy(p.Grad.Data, l.qgrad[k:k+len(p.Grad.Data)])
		k += len(p.Grad.Data)
	}
}

// IntegerOp returns the integer LSTM (GRU, SimpleRNN) op of the layer's
// current state for an input of scale sIn and zero point zpIn and the
// output quantizer's scale and zero point (the op's Inputs and Output
// left unset), or an error if a range is not set yet.
func (l *QuantizeLSTM) IntegerOp(sIn float32, zpIn int32) (lite.Op, error) {
	if !initialised(l.kq) || !initialised(l.rq) || !initialised(l.oq) {
		return lite.Op{}, errors.New("the quantizers have not seen data yet (calibrate or train first)")
	}
	f, u := l.f, l.u
	gu := l.gates * u
	bits := l.Cfg.Kernel.Bits
	if l.Cfg.Recurrent.Bits != bits {
		return lite.Op{}, fmt.Errorf("kernel and recurrent kernel of %d and %d bits: the integer LSTM takes one width", bits, l.Cfg.Recurrent.Bits)
	}
	qmin, qmax := qmath.QRange(bits, true)
	op := lite.Op{Type: lite.OpLSTM, Name: l.Name(), WeightShape: tensor.Shape{f + u, gu}, WeightBits: bits,
		Weights: make([]int8, (f+u)*gu), WeightScales: make([]float32, 2*gu), CellExponent: l.CellExponent(),
		ReturnSequences: l.Cfg.LSTM.ReturnSequences, GoBackwards: l.Cfg.LSTM.GoBackwards, Masking: l.Cfg.LSTM.Masking}
	switch l.gates {
	case 1:
		op.Type, op.CellExponent = lite.OpSimpleRNN, 0
	case 3:
		op.Type, op.CellExponent = lite.OpGRU, 0
	}
	for k, w := range []struct {
		q    Quantizer
		p    *nn.Param
		rows int
	}{{l.kq, l.kernel, f}, {l.rq, l.rec, u}} {
		sc, _ := w.q.Scales()
		for j := 0; j < gu; j++ {
			s := sc[0]
			if len(sc) == gu {
				s = sc[j]
			}
			op.WeightScales[k*gu+j] = s
		}
		base := k * f * gu
		for i, v := range w.p.Value.Data {
			op.Weights[base+i] = int8(qmath.QuantizeValue(v, op.WeightScales[k*gu+i%gu], 0, qmin, qmax))
		}
	}
	if b := l.bias; b != nil {
		op.Bias = make([]int32, len(b.Value.Data))
		sh, _ := l.oq.Scales()
		for j, v := range b.Value.Data {
			if j < gu {
				op.Bias[j] = qmath.QuantizeBias(v, sIn, op.WeightScales[j])
			} else { // the GRU's recurrent bias, on the recurrent product's grid
				op.Bias[j] = qmath.QuantizeBias(v, sh[0], op.WeightScales[j])
			}
		}
	}
	return op, nil
}

// integerTensors returns the input and output tensors of the integer op
// for an input of scale sIn, zero point zpIn and bits.
func (l *QuantizeLSTM) integerTensors(sIn float32, zpIn int32, bits int) (lite.Tensor, lite.Tensor, error) {
	tin := lite.Tensor{Name: "x", Shape: tensor.Shape{l.t, l.f}, DType: lite.Int8, Scale: sIn, ZeroPoint: zpIn, Bits: bits}
	shape := []int{l.u}
	if l.Cfg.LSTM.ReturnSequences {
		shape = []int{l.t, l.u}
	}
	tout, err := QuantTensor(l.Name(), shape, l.oq)
	return tin, tout, err
}

// exactForward runs the integer LSTM on the codes of x (see Forward) in
// lite's interpreter, or returns nil when it cannot (not linked, a range
// not set).
func (l *QuantizeLSTM) exactForward(x *tensor.Tensor) *tensor.Tensor {
	if !l.linked || l.cellMax.Value.Data[0] == 0 {
		return nil
	}
	sIn, zpIn, ok := l.src.params()
	if !ok {
		return nil
	}
	op, err := l.IntegerOp(sIn, zpIn)
	if err != nil {
		return nil
	}
	tin, tout, err := l.integerTensors(sIn, zpIn, l.src.q.Spec().Bits)
	if err != nil {
		return nil
	}
	op.Inputs, op.Output = []int{0}, 1
	m := &lite.Model{Name: l.Name(), Tensors: []lite.Tensor{tin, tout}, Ops: []lite.Op{op}, Inputs: []int{0}, Outputs: []int{1}}
	it, err := lite.NewInterpreter(m)
	if err != nil {
		return nil
	}
	n := x.Shape[0]
	qlo, qhi := tin.QRange()
	l.xq = grow(l.xq, len(x.Data))
	for i, v := range x.Data {
		l.xq[i] = int8(min(max(l.src.code(v, sIn, zpIn)+zpIn, qlo), qhi))
	}
	if err := it.SetInputInt8(0, &tensor.Int8{Shape: tensor.Shape{n, l.t, l.f}, Data: l.xq}); err != nil {
		return nil
	}
	if err := it.Invoke(); err != nil {
		return nil
	}
	y := it.OutputInt8(0)
	out := tensor.Ensure(&l.out, y.Shape...)
	qmath.Dequantize(y.Data, out.Data, tout.Scale, tout.ZeroPoint)
	return out
}

// Lower converts the layer to the integer LSTM op (lite.OpLSTM) on its
// input's int8 tensor, with its output quantizer's tensor.
func (l *QuantizeLSTM) Lower(b Lowering) error {
	x, err := b.Input(0)
	if err != nil {
		return err
	}
	tin := b.Tensor(x)
	op, err := l.IntegerOp(tin.Scale, tin.ZeroPoint)
	if err != nil {
		return err
	}
	out, _, err := b.Output(l.oq)
	if err != nil {
		return err
	}
	op.Inputs, op.Output = []int{x}, out
	b.AddOp(op)
	return nil
}

// wrapLSTMConfig returns the QuantizeLSTM (QuantizeGRU,
// QuantizeSimpleRNN) configuration of an LSTM's (GRU's, SimpleRNN's)
// saved config under scheme s: the kernels per gate column (per gate
// matrix with s.PerGate, NBit.GateWeight), the scheme's activation
// quantizer at the output.
func wrapLSTMConfig(raw json.RawMessage, s NBit) (LSTMConfig, error) {
	o := nn.RecurrentOptions{UseBias: true}
	if err := json.Unmarshal(raw, &o); err != nil {
		return LSTMConfig{}, err
	}
	w := s.GateWeight(o.Units)
	return LSTMConfig{LSTM: o, Kernel: w, Recurrent: w, Output: s.Activation()}, nil
}

// grow returns buf with n elements, reusing its storage.
func grow[E any](buf []E, n int) []E {
	if cap(buf) < n {
		return make([]E, n)
	}
	return buf[:n]
}
