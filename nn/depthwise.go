package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// DepthwiseConv2D is a depthwise 2-D convolution, like Keras's
// DepthwiseConv2D: each input channel is convolved with its own
// DepthMultiplier (M) KH x KW filters, taps DilationRate (DH, DW) apart,
// giving output channels c*M .. c*M+M-1 (Keras's order).
//
//	out[n,oh,ow,c*M+m] = bias[c*M+m] + sum_{kh,kw} in[n, oh*SH-padT+kh*DH, ow*SW-padL+kw*DW, c] * kernel[kh,kw,c,m]
//
// in (N,H,W,C), kernel (KH,KW,C,M), out (N,OH,OW,C*M). The exported
// hyper-parameters may be changed after NewDepthwiseConv2D and before Build.
type DepthwiseConv2D struct {
	Base
	// KernelSize is the window (height, width).
	KernelSize [2]int
	// Strides is the step (vertical, horizontal); default (1, 1).
	Strides [2]int
	// Padding is "valid" (the default) or "same".
	Padding string
	// DepthMultiplier is the number of output channels per input channel
	// (Keras's depth_multiplier); default 1.
	DepthMultiplier int
	// DilationRate is the spacing of the kernel's taps (vertical,
	// horizontal), Keras's dilation_rate; default (1, 1), and 0 counts as
	// 1. A dilation above 1 cannot be combined with a stride above 1.
	DilationRate [2]int
	// UseBias adds a learned bias per output channel; default true.
	UseBias bool
	// DepthwiseKernel holds the weights (KH,KW,C,M) and Bias (C*M) the
	// bias (nil without UseBias), both set by Build.
	DepthwiseKernel, Bias *Param

	geom    ops.Geom
	params  []*Param
	x       *tensor.Tensor // last Forward's input
	out     *tensor.Tensor
	dIn     *tensor.Tensor
	scratch []float32 // per-chunk partial weight gradients

	// The running Forward of a plain geometry (see rowsFn): its input,
	// bias (nil: none) and output, for fwdRows, which kernels.ParallelFor
	// runs through the method value fwdRowsFn (so that the call does not
	// allocate).
	fwdIn, fwdB, fwdOut []float32
	fwdRowsFn           func(lo, hi int)
}

// depthwiseConfig is DepthwiseConv2D's saved configuration (the dilation
// left out at its default, as older versions wrote it).
type depthwiseConfig struct {
	KernelSize      [2]int  `json:"kernel_size"`
	Strides         [2]int  `json:"strides"`
	Padding         string  `json:"padding"`
	DepthMultiplier int     `json:"depth_multiplier"`
	UseBias         bool    `json:"use_bias"`
	DilationRate    *[2]int `json:"dilation_rate,omitempty"`
}

func init() {
	Register("DepthwiseConv2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := depthwiseConfig{Strides: [2]int{1, 1}, Padding: "valid", DepthMultiplier: 1, UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "DepthwiseConv2D"), err)
		}
		l := NewDepthwiseConv2D(cfg.KernelSize[0], cfg.KernelSize[1])
		l.SetName(name)
		l.Strides, l.Padding, l.DepthMultiplier, l.UseBias = cfg.Strides, cfg.Padding, cfg.DepthMultiplier, cfg.UseBias
		if cfg.DilationRate != nil {
			l.DilationRate = *cfg.DilationRate
		}
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// NewDepthwiseConv2D returns a DepthwiseConv2D layer with a kh x kw kernel,
// strides (1, 1), "valid" padding, depth multiplier 1, no dilation and a
// bias.
func NewDepthwiseConv2D(kh, kw int) *DepthwiseConv2D {
	return &DepthwiseConv2D{KernelSize: [2]int{kh, kw}, Strides: [2]int{1, 1}, Padding: "valid", DepthMultiplier: 1,
		DilationRate: [2]int{1, 1}, UseBias: true}
}

// Type returns "DepthwiseConv2D".
func (l *DepthwiseConv2D) Type() string { return "DepthwiseConv2D" }

// Config returns the layer's hyper-parameters, e.g. {"kernel_size":[3,3],
// "strides":[1,1],"padding":"same","depth_multiplier":1,"use_bias":true},
// with "dilation_rate":[2,2] when it is not 1.
func (l *DepthwiseConv2D) Config() any {
	cfg := depthwiseConfig{KernelSize: l.KernelSize, Strides: l.Strides, Padding: l.Padding, DepthMultiplier: l.DepthMultiplier, UseBias: l.UseBias}
	if d := l.Dilation(); d != [2]int{1, 1} {
		cfg.DilationRate = &d
	}
	return cfg
}

// Dilation returns DilationRate with zeros read as 1.
func (l *DepthwiseConv2D) Dilation() [2]int { return spatialDilation(l.DilationRate) }

// check validates the hyper-parameters.
func (l *DepthwiseConv2D) check() error {
	label := spatialLabel(l.Name(), l.Type())
	if l.DepthMultiplier < 1 {
		return fmt.Errorf("%s: depth_multiplier must be positive, got %d", label, l.DepthMultiplier)
	}
	if err := spatialCheckWindow(label, "kernel_size", l.KernelSize, l.Strides, l.Padding); err != nil {
		return err
	}
	return spatialCheckDilation(label, l.KernelSize, l.DilationRate, l.Strides)
}

// Build checks that the input is one (H, W, C) image shape that the kernel
// fits, creates the weights (kept if already of the right shape), and
// returns the output shape (OH, OW, C*M).
func (l *DepthwiseConv2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	label := spatialLabel(l.Name(), l.Type())
	g, err := spatialGeomDilated(label, in, l.KernelSize, l.Strides, l.Dilation(), l.Padding, "kernel")
	if err != nil {
		return nil, err
	}
	M := l.DepthMultiplier
	if M > (1<<28)/g.C {
		return nil, fmt.Errorf("%s: %d channels times depth_multiplier %d is too many", label, g.C, M)
	}
	g.M = M
	l.geom = g
	l.fwdRowsFn = l.fwdRows
	l.DepthwiseKernel = spatialParam(l.DepthwiseKernel, "depthwise_kernel", g.KH, g.KW, g.C, M)
	l.params = []*Param{l.DepthwiseKernel}
	l.Bias = nil
	if l.UseBias {
		l.Bias = spatialParam(l.Bias, "bias", g.C*M)
		l.params = append(l.params, l.Bias)
	}
	return tensor.Shape{g.OH, g.OW, g.C * M}, nil
}

// Params returns the depthwise kernel and, with UseBias, the bias; nil
// before Build.
func (l *DepthwiseConv2D) Params() []*Param { return l.params }

// InitWeights sets the default initial values: a Glorot uniform kernel with
// fan in KH*KW (each output sees KH*KW inputs of one channel) and fan out
// KH*KW*M, and a zero bias. (Keras derives the fans from the 4-D kernel
// shape, KH*KW*C and KH*KW*M, which gives a narrower range for many
// channels.)
func (l *DepthwiseConv2D) InitWeights(r *rand.Rand) {
	k := l.geom.KH * l.geom.KW
	glorotUniform(r, l.DepthwiseKernel.Value.Data, k, k*l.geom.Multiplier())
	if l.Bias != nil {
		l.Bias.Value.Zero()
	}
}

// Forward computes the depthwise convolution of in[0] (N,H,W,C) into
// (N,OH,OW,C*M). With depth multiplier 1 and no dilation it runs
// kernels.DepthwiseRows (AVX-512 where the CPU has it), whose values are
// those of ops.DepthwiseForward bit for bit (the same roundings in the
// same order), output rows split across threads.
func (l *DepthwiseConv2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := spatialInputTensor(l, in, l.geom)
	g := l.geom.WithBatch(x.Shape[0])
	out := tensor.Ensure(&l.out, g.N, g.OH, g.OW, g.C*g.Multiplier())
	var b []float32
	if l.Bias != nil {
		b = l.Bias.Value.Data
	}
	l.x = x
	if !g.Plain() {
		ops.DepthwiseForward(g, x.Data, l.DepthwiseKernel.Value.Data, b, out.Data)
		return out
	}
	l.fwdIn, l.fwdB, l.fwdOut = x.Data, b, out.Data
	kernels.ParallelFor(g.N*g.OH, dwRowGrain(g), l.fwdRowsFn)
	l.fwdIn, l.fwdB, l.fwdOut = nil, nil, nil
	return out
}

// fwdRows computes output rows [lo, hi) (numbered n*OH+oh) of the running
// Forward of a plain geometry.
func (l *DepthwiseConv2D) fwdRows(lo, hi int) {
	kernels.DepthwiseRows(dwGeom(l.geom), l.fwdIn, l.DepthwiseKernel.Value.Data, l.fwdB, l.fwdOut, lo, hi)
}

// dwGeom is the kernels' geometry of a plain depthwise convolution.
func dwGeom(g ops.Geom) kernels.DWGeom {
	return kernels.DWGeom{H: g.H, W: g.W, C: g.C, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, PadT: g.PadT, PadL: g.PadL}
}

// dwRowGrain is the fewest output rows per part of a depthwise pass:
// about 64K multiply-adds, so that a hand-off to another thread pays.
func dwRowGrain(g ops.Geom) int {
	return max(1, (64<<10)/max(1, g.OW*g.C*g.Multiplier()*g.KH*g.KW))
}

// Backward computes dIn (N,H,W,C) from dOut (N,OH,OW,C*M) and the kernel,
// and the kernel and bias gradients (summed over the batch in a fixed
// order of image chunks).
func (l *DepthwiseConv2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	x := spatialLastInput(l, l.x)
	g := l.geom.WithBatch(x.Shape[0])
	spatialCheckGrad(l, dOut, g.N, g.OH, g.OW, g.C*g.Multiplier())
	dIn := tensor.Ensure(&l.dIn, g.N, g.H, g.W, g.C)
	ops.DepthwiseBackwardInput(g, dOut.Data, l.DepthwiseKernel.Value.Data, dIn.Data)
	var dB []float32
	if l.Bias != nil {
		dB = l.Bias.Grad.Data
	}
	l.scratch = spatialScratch(l.scratch, ops.DepthwiseScratchSize(g))
	ops.DepthwiseBackwardWeights(g, x.Data, dOut.Data, l.DepthwiseKernel.Grad.Data, dB, l.scratch)
	return []*tensor.Tensor{dIn}
}
