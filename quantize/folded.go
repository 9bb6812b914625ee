package quantize

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// FoldedConfig is FoldedConvBN's saved configuration.
type FoldedConfig struct {
	// Layer is the Conv2D, DepthwiseConv2D, Conv1D or Dense that was
	// folded.
	Layer LayerSpec `json:"layer"`
	// BatchNorm is the folded BatchNormalization's configuration.
	BatchNorm nn.BatchNormalizationConfig `json:"batch_normalization"`
	// Activation is "", "relu" or "relu6".
	Activation string `json:"activation"`
	// WeightQuantizer quantizes the folded kernel (nil: float kernel).
	WeightQuantizer *Spec `json:"weight_quantizer"`
	// OutputQuantizer quantizes the output, after the activation (nil:
	// none).
	OutputQuantizer *Spec `json:"output_quantizer"`
	// FreezeBNAfter is the optimizer step (Context.Step) from which
	// training uses the moving statistics; negative: never.
	FreezeBNAfter int `json:"freeze_bn_after"`
	// FixedKernel keeps the kernel constant (not trained): the identity
	// 1x1 depthwise kernel that a standalone BatchNormalization is folded
	// into (see StandaloneBatchNorm in package transform).
	FixedKernel bool `json:"fixed_kernel,omitempty"`
}

// FoldedConvBN is a Conv2D, DepthwiseConv2D, Conv1D or Dense followed by
// BatchNormalization (and optionally ReLU or ReLU6) as one layer, folded
// during quantization-aware training as Krishnamoorthi (2018) and PyTorch's
// ConvBn2d do, so that the model that is trained is the model that ships:
//
//	sigma = sqrt(moving_variance + eps), f = gamma / sigma      (per channel)
//	z     = conv(x, fakequant(kernel * f))                       (no bias)
//
// Training before the BN freeze (batch statistics):
//
//	u   = z / f + bias                     (the unfolded conv output)
//	y   = gamma * (u - mean_B) / sqrt(var_B + eps) + beta
//
// that is z * sigma/sigma_B plus a correction, with the moving statistics
// updated as BatchNormalization does. After the freeze (Context.Step >=
// FreezeBNAfter while training; the freeze is remembered in the state
// "bn_frozen") and in inference mode (moving statistics, not updated):
//
//	y = z + beta + f * (bias - moving_mean)
//
// Then the activation (ReLU: max(y,0), ReLU6: min(max(y,0),6)) and the
// output fake quant. Backward is exact through all of it (straight through
// the fake quants), including gamma's effect through f.
//
// Parameters: the kernel ("kernel" or "depthwise_kernel"), "bias" if the
// conv had one, "gamma", "beta", "moving_mean", "moving_variance",
// "bn_frozen", then the quantizers' state ("kernel_quant_*",
// "output_quant_*").
//
// For conversion: Folded returns the folded float kernel and bias,
// FakeQuantKernel the kernel as the integer model must hold it,
// WeightQuant and OutputQuant the quantizers (Scales gives scales and zero
// points), Activation the fused activation, Conv the folded layer's
// geometry.
type FoldedConvBN struct {
	nn.Base
	cfg FoldedConfig

	conv   nn.Layer // inner layer without bias; its kernel holds fakequant(kernel*f)
	convW  *nn.Param
	bn     *nn.BatchNormalization
	kernel *nn.Param
	bias   *nn.Param
	frozen *nn.Param
	wq, oq Quantizer
	shared Quantizer // the consuming Concatenate's output quantizer when oq is nil (set by Link)
	params []*nn.Param
	ch     int

	sf, invSf, sigma []float32
	biasFold         []float32
	s1, s2, dsf      []float64
	sums             chanSums
	batchMode        bool // mode of the last Forward
	ws, dWs          *tensor.Tensor
	z                *tensor.Tensor // inner conv output of the last Forward
	u, a, out        *tensor.Tensor
	dA, dz           *tensor.Tensor
	uIn              [1]*tensor.Tensor

	naive bool       // run the unfused reference loops (tests pin the fused passes to them)
	fp    foldPasses // the fused passes
	fc    foldChain  // the fully fused path (per-tensor output quantizer or none)
	chain bool       // the last Forward ran fc

	ex   *exact // bit-exact inference (set by Link), nil if not linked
	ictx nn.Context
	ins  [1]*tensor.Tensor
}

func init() {
	nn.Register("FoldedConvBN", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg FoldedConfig
		if err := strictDecode(raw, &cfg); err != nil {
			return nil, fmt.Errorf("FoldedConvBN %q: config: %w", name, err)
		}
		l, err := NewFoldedConvBN(cfg)
		if err != nil {
			return nil, fmt.Errorf("FoldedConvBN %q: %w", name, err)
		}
		l.SetName(name)
		return l, nil
	})
}

// NewFoldedConvBN returns an unbuilt folded layer.
func NewFoldedConvBN(cfg FoldedConfig) (*FoldedConvBN, error) {
	switch cfg.Layer.Type {
	case "Conv2D", "DepthwiseConv2D", "Conv1D", "Dense":
	default:
		return nil, fmt.Errorf("cannot fold a %q layer with BatchNormalization (want Conv2D, DepthwiseConv2D, Conv1D or Dense)", cfg.Layer.Type)
	}
	switch cfg.Activation {
	case "", "relu", "relu6":
	default:
		return nil, fmt.Errorf("fused activation %q not supported (want relu, relu6 or none)", cfg.Activation)
	}
	for _, s := range []*Spec{cfg.WeightQuantizer, cfg.OutputQuantizer} {
		if s != nil {
			if err := s.Validate(); err != nil {
				return nil, err
			}
		}
	}
	return &FoldedConvBN{cfg: cfg}, nil
}

// Type returns "FoldedConvBN".
func (l *FoldedConvBN) Type() string { return "FoldedConvBN" }

// Config returns the FoldedConfig.
func (l *FoldedConvBN) Config() any { return l.cfg }

// FoldedConfig returns the layer's configuration.
func (l *FoldedConvBN) FoldedConfig() FoldedConfig { return l.cfg }

// Build builds the inner layer (bias-free), the batch normalization and the
// quantizers.
func (l *FoldedConvBN) Build(in []tensor.Shape) (tensor.Shape, error) {
	conv, err := nn.NewLayer(l.cfg.Layer.Type, l.Name(), l.cfg.Layer.Config)
	if err != nil {
		return nil, err
	}
	hasBias := false
	switch c := conv.(type) {
	case *nn.Conv2D:
		hasBias, c.UseBias = c.UseBias, false
	case *nn.DepthwiseConv2D:
		hasBias, c.UseBias = c.UseBias, false
	case *nn.Conv1D:
		hasBias, c.UseBias = c.UseBias, false
	case *nn.Dense:
		hasBias, c.UseBias = c.UseBias, false
	}
	out, err := conv.Build(in)
	if err != nil {
		return nil, err
	}
	l.conv = conv
	switch c := conv.(type) {
	case *nn.Conv2D:
		l.convW = c.Kernel
	case *nn.DepthwiseConv2D:
		l.convW = c.DepthwiseKernel
	case *nn.Conv1D:
		l.convW = c.Kernel
	case *nn.Dense:
		l.convW = c.Kernel
	}
	C := out[len(out)-1]
	l.ch = C
	l.kernel = nn.NewParam(l.convW.Name, !l.cfg.FixedKernel, l.convW.Value.Shape...)
	if l.cfg.FixedKernel {
		// Not trained, but Backward computes gamma's gradient through it.
		l.kernel.Grad = tensor.New(l.convW.Value.Shape...)
	}
	l.params = []*nn.Param{l.kernel}
	l.bias = nil
	if hasBias {
		l.bias = nn.NewParam("bias", true, C)
		l.params = append(l.params, l.bias)
	}
	bc := l.cfg.BatchNorm
	l.bn = &nn.BatchNormalization{Axis: bc.Axis, Momentum: bc.Momentum, Epsilon: bc.Epsilon}
	l.bn.SetName(l.Name())
	if _, err := l.bn.Build([]tensor.Shape{out}); err != nil {
		return nil, err
	}
	l.params = append(l.params, l.bn.Params()...)
	l.frozen = nn.NewParam("bn_frozen", false, 1)
	l.params = append(l.params, l.frozen)
	l.wq, l.oq = nil, nil
	if s := l.cfg.WeightQuantizer; s != nil {
		if l.wq, err = s.New(); err != nil {
			return nil, err
		}
		if err := l.wq.Build(l.kernel.Name+"_quant", l.kernel.Value.Shape); err != nil {
			return nil, err
		}
		l.params = append(l.params, l.wq.Params()...)
	}
	if s := l.cfg.OutputQuantizer; s != nil {
		if l.oq, err = s.New(); err != nil {
			return nil, err
		}
		if err := l.oq.Build("output_quant", out); err != nil {
			return nil, err
		}
		l.params = append(l.params, l.oq.Params()...)
	}
	l.sf = make([]float32, C)
	l.invSf = make([]float32, C)
	l.sigma = make([]float32, C)
	l.biasFold = make([]float32, C)
	l.s1 = make([]float64, C)
	l.s2 = make([]float64, C)
	l.dsf = make([]float64, C)
	l.ws = tensor.New(l.kernel.Value.Shape...)
	l.dWs = tensor.New(l.kernel.Value.Shape...)
	l.fp.act = actNone
	l.fc.p.Act = kernels.ActLinear
	switch l.cfg.Activation {
	case "relu":
		l.fp.act = actReLU
		l.fc.p.Act = kernels.ActReLU
	case "relu6":
		l.fp.act = actReLU6
		l.fc.p.Act = kernels.ActReLU6
	}
	return out, nil
}

// Params returns the kernel, the bias (if any), gamma, beta, the moving
// statistics, the freeze flag and the quantizers' state.
func (l *FoldedConvBN) Params() []*nn.Param { return l.params }

// InitWeights initialises the kernel as the inner layer would (Glorot
// uniform), the bias to zero and the batch normalization to its defaults.
func (l *FoldedConvBN) InitWeights(r *rand.Rand) {
	if ini, ok := l.conv.(nn.Initializer); ok {
		ini.InitWeights(r)
	}
	copy(l.kernel.Value.Data, l.convW.Value.Data)
	if l.bias != nil {
		l.bias.Value.Zero()
	}
	l.bn.InitWeights(r)
	l.frozen.Value.Zero()
}

// fold computes f = gamma/sigma per channel and the scaled kernel.
func (l *FoldedConvBN) fold() {
	eps := l.bn.Epsilon
	g, mv := l.bn.Gamma.Value.Data, l.bn.MovingVariance.Value.Data
	for c := range l.sf {
		s := math.Sqrt(float64(mv[c]) + eps)
		l.sigma[c] = float32(s)
		l.sf[c] = float32(float64(g[c]) / s)
		l.invSf[c] = float32(s / float64(g[c]))
	}
	C := l.ch
	w, ws := l.kernel.Value.Data, l.ws.Data
	for base := 0; base < len(w); base += C {
		wr, sr := w[base:base+C], ws[base:base+C]
		sr = sr[:len(wr)]
		f := l.sf[:len(wr)]
		for j, v := range wr {
			sr[j] = v * f[j]
		}
	}
}

// foldBias computes the moving-statistics bias beta + f*(bias - mean).
func (l *FoldedConvBN) foldBias() {
	beta, mm := l.bn.Beta.Value.Data, l.bn.MovingMean.Value.Data
	for c := range l.biasFold {
		b := 0.0
		if l.bias != nil {
			b = float64(l.bias.Value.Data[c])
		}
		l.biasFold[c] = float32(float64(beta[c]) + float64(l.sf[c])*(b-float64(mm[c])))
	}
}

// Frozen reports whether training has switched to the moving statistics.
func (l *FoldedConvBN) Frozen() bool { return l.frozen.Value.Data[0] != 0 }

// Forward computes the folded layer (see the type's comment). In
// inference mode a linked layer computes the integer engine's result
// exactly (see Link).
// in (N,H,W,C) or (N,in) -> out (N,OH,OW,F) or (N,units)
func (l *FoldedConvBN) Forward(c *nn.Context, in []*tensor.Tensor) *tensor.Tensor {
	if c.Training && l.cfg.FreezeBNAfter >= 0 && c.Step >= l.cfg.FreezeBNAfter {
		l.frozen.Value.Data[0] = 1
	}
	l.batchMode = c.Training && !l.Frozen()
	l.fold()
	if l.wq != nil {
		l.wq.Forward(c, l.ws, l.convW.Value)
	} else {
		copy(l.convW.Value.Data, l.ws.Data)
	}
	if oq := l.OutputQuant(); !c.Training && l.ex != nil && l.wq != nil && oq != nil {
		l.foldBias()
		if y := l.ex.forward(in[0], l.convW.Value, l.wq, l.biasFold, oq, l.cfg.Activation, &l.out); y != nil {
			return y
		}
		l.wq.Forward(c, l.ws, l.convW.Value) // runInner replaced the kernel
	}
	z := l.conv.Forward(c, in)
	l.z = z
	C := l.ch
	l.chain = false
	// The fully fused path computes its own batch statistics; with
	// synchronized BatchNorm (nn.SyncBatchNorm) the unfused one (the same
	// bits without synchronization: both are pinned to the reference
	// loops) runs the inner BatchNormalization, which exchanges them
	// (docs/distributed.md, Synchronized BatchNorm).
	if ro, ok := l.chainQuant(); ok && len(z.Data) > 0 && !c.SyncsBlocks() {
		return l.forwardChain(c, z, ro)
	}
	a := tensor.Ensure(&l.a, z.Shape...)
	y, b := z.Data, l.biasFold
	if l.batchMode {
		u := tensor.Ensure(&l.u, z.Shape...)
		var bias []float32
		if l.bias != nil {
			bias = l.bias.Value.Data
		}
		if l.naive {
			unfoldNaive(z.Data, l.invSf, bias, u.Data, C)
		} else {
			l.fp.unfold(z.Data, l.invSf, bias, u.Data, C)
		}
		l.uIn[0] = u
		y, b = l.bn.Forward(c, l.uIn[:]).Data, nil
	} else {
		l.foldBias()
	}
	if l.naive {
		l.activate(y, b, a.Data)
		if l.oq == nil {
			return a
		}
		out := tensor.Ensure(&l.out, a.Shape...)
		l.oq.Forward(c, a, out)
		return out
	}
	ro, fused := l.oq.(rangeObserver)
	if fused {
		_, fused = ro.tensorFQ()
	}
	if !fused {
		l.fp.activate(y, b, a.Data, C, false)
		if l.oq == nil {
			return a
		}
		out := tensor.Ensure(&l.out, a.Shape...)
		l.oq.Forward(c, a, out)
		return out
	}
	// Activation and the output quantizer's min/max in one pass, then the
	// fake quant: what oq.Forward(activate(y)) computes.
	need := ro.needsRange(c)
	lo, hi := l.fp.activate(y, b, a.Data, C, need)
	if need {
		ro.observe(lo, hi)
	}
	ro.refresh()
	p, _ := ro.tensorFQ()
	out := tensor.Ensure(&l.out, a.Shape...)
	l.fp.apply(p, a.Data, out.Data)
	return out
}

// chainQuant reports whether the fully fused path (foldChain) can run:
// not in the reference mode, and with no output quantizer (ro nil) or a
// per-tensor range quantizer, whose constants the kernels apply.
func (l *FoldedConvBN) chainQuant() (ro rangeObserver, ok bool) {
	if l.naive {
		return nil, false
	}
	if l.oq == nil {
		return nil, true
	}
	if ro, ok = l.oq.(rangeObserver); ok {
		_, ok = ro.tensorFQ()
	}
	return ro, ok
}

// forwardChain is Forward's fully fused path from the inner convolution's
// output z: the batch statistics (or the moving ones), the output
// quantizer's range, then the output in one pass (see foldChain).
// z (rows, C) -> out (rows, C)
func (l *FoldedConvBN) forwardChain(c *nn.Context, z *tensor.Tensor, ro rangeObserver) *tensor.Tensor {
	f := &l.fc
	f.setup(l.ch, len(z.Data)/l.ch)
	l.chain = true
	if l.batchMode {
		var bias []float32
		if l.bias != nil {
			bias = l.bias.Value.Data
		}
		f.batchStats(l.bn, c.Step, z.Data, l.invSf, bias)
	} else {
		l.foldBias()
		f.frozenParams(z.Data, l.biasFold)
	}
	out := tensor.Ensure(&l.out, z.Shape...)
	if ro == nil {
		f.forward(out.Data)
		return out
	}
	if ro.needsRange(c) {
		if !l.batchMode {
			f.uRange()
		}
		lo, hi, ok := f.actRange()
		if !ok || f.forceFallback {
			f.fallbacks++
			lo, hi = l.chainRange()
		}
		ro.observe(lo, hi)
	}
	ro.refresh()
	q, _ := ro.tensorFQ()
	f.p.Quant, f.p.QScale, f.p.QInv, f.p.QLo, f.p.QHi = true, q.scale, q.inv, q.lo, q.hi
	f.forward(out.Data)
	return out
}

// chainRange is the min and max of the activation computed the unfused
// way, for the cases foldChain.actRange cannot derive exactly: the
// normalized values written out (without the activation), then
// foldPasses.activate over them, which meets the values in the order the
// unfused path does.
func (l *FoldedConvBN) chainRange() (lo, hi float32) {
	f := &l.fc
	a := tensor.Ensure(&l.a, l.z.Shape...)
	act := f.p.Act
	f.p.Act = kernels.ActLinear
	f.forward(a.Data)
	f.p.Act = act
	return l.fp.activate(a.Data, nil, a.Data, l.ch, true)
}

// unfoldNaive writes u = z*inv + bias per channel (bias may be nil): the
// reference loop of foldPasses.unfold.
func unfoldNaive(z, inv, bias, u []float32, C int) {
	for base := 0; base < len(z); base += C {
		zr, ur := z[base:base+C], u[base:base+C]
		ur = ur[:len(zr)]
		inv := inv[:len(zr)]
		if bias != nil {
			b := bias[:len(zr)]
			for j, v := range zr {
				ur[j] = v*inv[j] + b[j]
			}
		} else {
			for j, v := range zr {
				ur[j] = v * inv[j]
			}
		}
	}
}

// activate writes a = act(y + b) (b per channel, may be nil): the
// reference loop of foldPasses.activate.
func (l *FoldedConvBN) activate(y, b []float32, a []float32) {
	C := l.ch
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	switch l.cfg.Activation {
	case "relu":
		lo = 0
	case "relu6":
		lo, hi = 0, 6
	}
	for base := 0; base < len(y); base += C {
		yr, ar := y[base:base+C], a[base:base+C]
		ar = ar[:len(yr)]
		if b != nil {
			br := b[:len(yr)]
			for j, v := range yr {
				ar[j] = min(max(v+br[j], lo), hi)
			}
		} else {
			for j, v := range yr {
				ar[j] = min(max(v, lo), hi)
			}
		}
	}
}

// Backward computes the gradients of the last Forward.
// dOut shaped like the output -> dIn shaped like the input
func (l *FoldedConvBN) Backward(c *nn.Context, dOut *tensor.Tensor) []*tensor.Tensor {
	C := l.ch
	var dA *tensor.Tensor // dOut through the output fake quant and the activation
	if !l.chain || !l.batchMode {
		dA = tensor.Ensure(&l.dA, dOut.Shape...)
	}
	if !l.chain {
		l.maskGrad(c, dOut, dA)
	}
	gGrad := l.bn.Gamma.Grad.Data
	var dz *tensor.Tensor
	if l.batchMode {
		switch {
		case l.chain:
			dz = tensor.Ensure(&l.dz, dOut.Shape...)
			l.fc.backwardBatch(l.bn, dOut.Data, dz.Data, l.s1, l.s2) // sets gamma and beta gradients
		case l.naive:
			du := l.bn.Backward(c, dA)[0] // sets gamma and beta gradients
			dz = tensor.Ensure(&l.dz, du.Shape...)
			l.sums.run(du.Data, l.z.Data, C, l.s1, l.s2)
			for base := 0; base < len(du.Data); base += C {
				dr, zr := du.Data[base:base+C], dz.Data[base:base+C]
				zr = zr[:len(dr)]
				inv := l.invSf[:len(dr)]
				for j, v := range dr {
					zr[j] = v * inv[j]
				}
			}
		default:
			du := l.bn.Backward(c, dA)[0]
			dz = tensor.Ensure(&l.dz, du.Shape...)
			l.sums.runScaled(du.Data, l.z.Data, C, l.s1, l.s2, l.invSf, dz.Data)
		}
		for j := 0; j < C; j++ {
			inv := float64(l.invSf[j])
			l.dsf[j] = -l.s2[j] * inv * inv
			if l.bias != nil {
				l.bias.Grad.Data[j] = float32(l.s1[j])
			}
		}
	} else {
		if l.chain {
			l.fc.backwardFrozen(dOut.Data, dA.Data, l.s1)
		} else {
			l.sums.run(dA.Data, nil, C, l.s1, nil)
		}
		dz = dA
		mm := l.bn.MovingMean.Value.Data
		for j := 0; j < C; j++ {
			b := 0.0
			if l.bias != nil {
				b = float64(l.bias.Value.Data[j])
				l.bias.Grad.Data[j] = float32(float64(l.sf[j]) * l.s1[j])
			}
			l.bn.Beta.Grad.Data[j] = float32(l.s1[j])
			gGrad[j] = 0
			l.dsf[j] = (b - float64(mm[j])) * l.s1[j]
		}
	}
	dIn := l.conv.Backward(c, dz)
	dWq := l.convW.Grad
	if l.wq != nil {
		l.wq.Backward(c, l.ws, dWq, l.dWs)
	} else {
		copy(l.dWs.Data, dWq.Data)
	}
	// Kernel gradient dW = dWs * f, and f's gradient sum(dWs * W).
	w, dWs, dW := l.kernel.Value.Data, l.dWs.Data, l.kernel.Grad.Data
	for j := range l.s2 {
		l.s2[j] = 0
	}
	for base := 0; base < len(w); base += C {
		wr, dr, gr := w[base:base+C], dWs[base:base+C], dW[base:base+C]
		dr = dr[:len(wr)]
		gr = gr[:len(wr)]
		f := l.sf[:len(wr)]
		s := l.s2[:len(wr)]
		for j, v := range wr {
			gr[j] = dr[j] * f[j]
			s[j] += float64(dr[j]) * float64(v)
		}
	}
	for j := 0; j < C; j++ {
		gGrad[j] += float32((l.dsf[j] + l.s2[j]) / float64(l.sigma[j]))
	}
	return dIn
}

// maskGrad writes dA, the gradient through the output fake quant
// (straight through) and the activation, from dOut.
func (l *FoldedConvBN) maskGrad(c *nn.Context, dOut, dA *tensor.Tensor) {
	if !l.naive {
		var p *fq
		if ro, ok := l.oq.(rangeObserver); ok {
			if q, ok := ro.tensorFQ(); ok {
				p = &q
			}
		}
		if p != nil || l.oq == nil {
			l.fp.mask(p, l.a.Data, dOut.Data, dA.Data)
			return
		}
		l.oq.Backward(c, l.a, dOut, dA)
		l.fp.mask(nil, l.a.Data, dA.Data, dA.Data)
		return
	}
	if l.oq != nil {
		l.oq.Backward(c, l.a, dOut, dA)
	} else {
		copy(dA.Data, dOut.Data)
	}
	// Through the activation: keep the gradient where lo < a < hi.
	if act := l.cfg.Activation; act != "" {
		a, d := l.a.Data, dA.Data[:len(l.a.Data)]
		for i, v := range a {
			if !(v > 0) || (act == "relu6" && !(v < 6)) {
				d[i] = 0
			}
		}
	}
}

// Activation returns the fused activation: "", "relu" or "relu6".
func (l *FoldedConvBN) Activation() string { return l.cfg.Activation }

// Conv returns the folded layer's convolution (or Dense) without bias, for
// its geometry (strides, padding, ...). Its weights are internal.
func (l *FoldedConvBN) Conv() nn.Layer { return l.conv }

// WeightQuant returns the folded kernel's quantizer (nil if the kernel is
// not quantized); its Scales are the integer kernel's per-channel scales.
func (l *FoldedConvBN) WeightQuant() Quantizer { return l.wq }

// OutputQuant returns the output quantizer (after the activation), or nil.
func (l *FoldedConvBN) OutputQuant() Quantizer {
	if l.oq == nil {
		return l.shared // see QuantizeWrapper.OutputQuant
	}
	return l.oq
}

// Folded returns the inference-mode folded float kernel (kernel * gamma /
// sqrt(moving_variance + eps), shaped like the kernel) and bias
// (beta + f*(bias - moving_mean), one per output channel): y =
// conv(x, kernel) + bias computes the unfolded Conv+BN in inference mode.
// The slices are new.
func (l *FoldedConvBN) Folded() (kernel, bias []float32) {
	l.fold()
	l.foldBias()
	return append([]float32(nil), l.ws.Data...), append([]float32(nil), l.biasFold...)
}

// FakeQuantKernel returns the folded kernel fake-quantized as inference
// uses it (with the weight quantizer's frozen range): the integer kernel is
// this divided by WeightQuant().Scales(), exactly. The slice is new.
func (l *FoldedConvBN) FakeQuantKernel() []float32 {
	l.fold()
	out := tensor.New(l.ws.Shape...)
	if l.wq == nil {
		copy(out.Data, l.ws.Data)
	} else {
		l.wq.Forward(&nn.Context{}, l.ws, out)
	}
	return out.Data
}

// runInner runs the bias-free inner layer in inference mode on x with
// kernel k (the exact inference's integer-valued pass).
func (l *FoldedConvBN) runInner(x, k *tensor.Tensor) *tensor.Tensor {
	copy(l.convW.Value.Data, k.Data)
	l.ins[0] = x
	l.ictx = nn.Context{}
	y := l.conv.Forward(&l.ictx, l.ins[:])
	l.ins[0] = nil
	return y
}
