package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/tensor"
)

// SeparableConv2D is a depthwise-separable 2-D convolution, like Keras's
// SeparableConv2D with depth multiplier 1: a depthwise KH x KW convolution
// (with the layer's strides and padding, no bias) followed by a 1x1
// pointwise convolution to Filters channels plus a bias.
//
//	mid (N,OH,OW,C) = depthwise(in (N,H,W,C), depthwise_kernel (KH,KW,C,1))
//	out (N,OH,OW,F) = mid x pointwise_kernel (1,1,C,F) + bias (F)
//
// The exported hyper-parameters may be changed after NewSeparableConv2D and
// before Build.
type SeparableConv2D struct {
	Base
	// Filters is the number of output channels.
	Filters int
	// KernelSize is the depthwise window (height, width).
	KernelSize [2]int
	// Strides is the depthwise step (vertical, horizontal); default (1, 1).
	Strides [2]int
	// Padding is "valid" (the default) or "same".
	Padding string
	// UseBias adds a learned bias per filter; default true.
	UseBias bool
	// DepthwiseKernel (KH,KW,C,1), PointwiseKernel (1,1,C,F) and Bias (F,
	// nil without UseBias) are set by Build.
	DepthwiseKernel, PointwiseKernel, Bias *Param

	inShape tensor.Shape
	dw      *DepthwiseConv2D // the depthwise stage, sharing DepthwiseKernel
	pw      *Conv2D          // the pointwise stage, sharing PointwiseKernel and Bias
	params  []*Param
	mid     []*tensor.Tensor // one-element input slice for pw, reused
}

// separableConfig is SeparableConv2D's saved configuration: the same
// fields as Conv2D's.
type separableConfig = conv2DConfig

func init() {
	Register("SeparableConv2D", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := separableConfig{Strides: [2]int{1, 1}, Padding: "valid", UseBias: true}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: config: %w", spatialLabel(name, "SeparableConv2D"), err)
		}
		l := NewSeparableConv2D(cfg.Filters, cfg.KernelSize[0], cfg.KernelSize[1])
		l.SetName(name)
		l.Strides, l.Padding, l.UseBias = cfg.Strides, cfg.Padding, cfg.UseBias
		if err := l.check(); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// NewSeparableConv2D returns a SeparableConv2D layer with filters output
// channels and a kh x kw depthwise kernel, strides (1, 1), "valid" padding
// and a bias.
func NewSeparableConv2D(filters, kh, kw int) *SeparableConv2D {
	return &SeparableConv2D{Filters: filters, KernelSize: [2]int{kh, kw}, Strides: [2]int{1, 1}, Padding: "valid", UseBias: true}
}

// Type returns "SeparableConv2D".
func (l *SeparableConv2D) Type() string { return "SeparableConv2D" }

// Config returns the layer's hyper-parameters, e.g. {"filters":64,
// "kernel_size":[3,3],"strides":[1,1],"padding":"same","use_bias":true}.
func (l *SeparableConv2D) Config() any {
	return separableConfig{Filters: l.Filters, KernelSize: l.KernelSize, Strides: l.Strides, Padding: l.Padding, UseBias: l.UseBias}
}

// check validates the hyper-parameters.
func (l *SeparableConv2D) check() error {
	return checkConv(spatialLabel(l.Name(), l.Type()), l.Filters, l.KernelSize, l.Strides, l.Padding)
}

// stages returns the two stage layers, unbuilt, configured from l's fields
// and named dwName and pwName.
func (l *SeparableConv2D) stages(dwName, pwName string) (*DepthwiseConv2D, *Conv2D) {
	dw := NewDepthwiseConv2D(l.KernelSize[0], l.KernelSize[1])
	dw.SetName(dwName)
	dw.Strides, dw.Padding, dw.UseBias = l.Strides, l.Padding, false
	pw := NewConv2D(l.Filters, 1, 1)
	pw.SetName(pwName)
	pw.UseBias = l.UseBias
	return dw, pw
}

// Build checks that the input is one (H, W, C) image shape that the kernel
// fits, creates the weights (kept if already of the right shape), and
// returns the output shape (OH, OW, Filters).
func (l *SeparableConv2D) Build(in []tensor.Shape) (tensor.Shape, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	label := spatialLabel(l.Name(), l.Type())
	dw, pw := l.stages(label, label)
	dw.DepthwiseKernel = l.DepthwiseKernel
	pw.Kernel, pw.Bias = l.PointwiseKernel, l.Bias
	mid, err := dw.Build(in)
	if err != nil {
		return nil, err
	}
	out, err := pw.Build([]tensor.Shape{mid})
	if err != nil {
		return nil, err
	}
	l.inShape = in[0].Clone()
	l.dw, l.pw = dw, pw
	l.DepthwiseKernel = dw.DepthwiseKernel
	l.PointwiseKernel = pw.Kernel
	l.PointwiseKernel.Name = "pointwise_kernel"
	l.Bias = pw.Bias
	l.params = []*Param{l.DepthwiseKernel, l.PointwiseKernel}
	if l.Bias != nil {
		l.params = append(l.params, l.Bias)
	}
	return out, nil
}

// Params returns the depthwise and pointwise kernels and, with UseBias, the
// bias; nil before Build.
func (l *SeparableConv2D) Params() []*Param { return l.params }

// InitWeights sets the default initial values of both stages (Glorot
// uniform kernels, zero bias): see DepthwiseConv2D.InitWeights and
// Conv2D.InitWeights.
func (l *SeparableConv2D) InitWeights(r *rand.Rand) {
	l.dw.InitWeights(r)
	l.pw.InitWeights(r)
}

// Forward runs the depthwise stage on in[0] (N,H,W,C), then the pointwise
// stage, into (N,OH,OW,F).
func (l *SeparableConv2D) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	if l.dw == nil {
		panic(fmt.Sprintf("%s: Forward before Build", spatialLabel(l.Name(), l.Type())))
	}
	if l.mid == nil {
		l.mid = make([]*tensor.Tensor, 1)
	}
	l.mid[0] = l.dw.Forward(c, in)
	return l.pw.Forward(c, l.mid)
}

// Backward runs the pointwise stage's backward, then the depthwise stage's.
func (l *SeparableConv2D) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	if l.dw == nil {
		panic(fmt.Sprintf("%s: Backward before Build", spatialLabel(l.Name(), l.Type())))
	}
	d := l.pw.Backward(c, dOut)
	return l.dw.Backward(c, d[0])
}

// Split returns a DepthwiseConv2D and a 1x1 Conv2D that, applied in turn,
// compute the same function as l: they are named l.Name()+"_depthwise" and
// l.Name()+"_pointwise" and, if l is built, built too with copies of l's
// weights (changing them leaves l unchanged). Quantization uses it to treat
// the two stages as separate layers.
func (l *SeparableConv2D) Split() (*DepthwiseConv2D, *Conv2D) {
	dw, pw := l.stages(l.Name()+"_depthwise", l.Name()+"_pointwise")
	if l.dw == nil {
		return dw, pw
	}
	mid, err := dw.Build([]tensor.Shape{l.inShape})
	if err != nil {
		panic(fmt.Sprintf("%s: Split: %v", spatialLabel(l.Name(), l.Type()), err)) // l was built with the same shapes
	}
	if _, err := pw.Build([]tensor.Shape{mid}); err != nil {
		panic(fmt.Sprintf("%s: Split: %v", spatialLabel(l.Name(), l.Type()), err))
	}
	copy(dw.DepthwiseKernel.Value.Data, l.DepthwiseKernel.Value.Data)
	copy(pw.Kernel.Value.Data, l.PointwiseKernel.Value.Data)
	if l.Bias != nil {
		copy(pw.Bias.Value.Data, l.Bias.Value.Data)
	}
	return dw, pw
}
