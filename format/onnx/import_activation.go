package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// activation imports the one-input activations Relu, Sigmoid, Tanh, Clip,
// Softmax, HardSigmoid and HardSwish as a goqat ReLU, ReLU6 or Activation
// layer on a computed input in any layout goqat keeps (NHWC or flat, NCHW
// image, (N, C, 1, 1)); the output keeps the input's layout, and those of
// Relu, Clip, Sigmoid, Softmax and HardSigmoid are non-negative.
// HardSigmoid is goqat's hard_sigmoid only with alpha 1/6 and beta 0.5
// (hardSigmoid); HardSwish (opset 14) is hard_swish. A Sigmoid or
// HardSigmoid of x whose only reader is a Mul by x (PyTorch's export of
// SiLU and, before opset 14, of hardswish) becomes, with that Mul, one
// Activation silu or hard_swish (selfGate). Refused: a flattened NCHW
// tensor (only Gemm or MatMul may read it), and what clip, softmax and
// hardSigmoid refuse.
func (im *importer) activation(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay == chwFlat {
		return errors.New("input is a flattened NCHW tensor; only Gemm or MatMul may read it")
	}
	var l nn.Layer
	op := n.GetOpType()
	switch op {
	case "Relu":
		l = nn.NewReLU()
	case "Sigmoid", "HardSigmoid":
		fn, fused := "sigmoid", "silu"
		if op == "HardSigmoid" {
			if err := hardSigmoid(n); err != nil {
				return err
			}
			fn, fused = "hard_sigmoid", "hard_swish"
		}
		if m := im.selfGate(n, x); m != nil {
			return im.gated(m, x, fused)
		}
		l, err = nn.NewActivation(fn)
	case "Tanh":
		l, err = nn.NewActivation("tanh")
	case "HardSwish":
		l, err = nn.NewActivation("hard_swish")
	case "Clip":
		l, err = im.clip(n)
	case "Softmax":
		l, err = im.softmax(n, x)
	}
	if err != nil {
		return err
	}
	v, err := im.call(n, l, x.lay, x.node)
	if err == nil {
		v.nonNeg = op != "Tanh" && op != "HardSwish" // ReLU, ReLU6, sigmoid, hard_sigmoid and softmax are >= 0
	}
	return err
}

// hardSigmoid checks a HardSigmoid's attributes: ONNX computes max(0,
// min(1, alpha*x + beta)) (defaults alpha 0.2, beta 0.5); goqat's
// hard_sigmoid is relu6(x + 3)/6, the same with alpha 1/6 and beta 0.5
// (PyTorch's and Keras 3's hard sigmoid, which torch.onnx writes as alpha
// float32(1/6)). Refused: other alpha or beta (Keras 2's and ONNX's
// default 0.2 among them).
func hardSigmoid(n *onnxpb.NodeProto) error {
	alpha, beta := floatAttr(n, "alpha", 0.2), floatAttr(n, "beta", 0.5)
	if math.Abs(6*float64(alpha)-1) > 1e-6 || math.Abs(float64(beta)-0.5) > 1e-6 {
		return fmt.Errorf("alpha %v, beta %v: only alpha 1/6 and beta 0.5 (PyTorch's hard sigmoid, relu6(x+3)/6, goqat's hard_sigmoid) "+
			"are supported", alpha, beta)
	}
	return nil
}

// clip returns the layer of a Clip: its bounds are the min and max
// attributes before opset 11 and the optional constant scalar inputs 1 and
// 2 from opset 11 (absent: -inf and +inf). Supported: Clip(0, 6) as ReLU6
// and Clip(0, +inf) as ReLU. Refused: other bounds, and bound inputs that
// are not constant scalars.
func (im *importer) clip(n *onnxpb.NodeProto) (nn.Layer, error) {
	lo, hi := floatAttr(n, "min", float32(math.Inf(-1))), floatAttr(n, "max", float32(math.Inf(1)))
	if im.opset >= 11 {
		var err error
		if lo, err = im.scalar(n, 1, float32(math.Inf(-1))); err != nil {
			return nil, err
		}
		if hi, err = im.scalar(n, 2, float32(math.Inf(1))); err != nil {
			return nil, err
		}
	}
	switch {
	case lo == 0 && hi == 6:
		return nn.NewReLU6(), nil
	case lo == 0 && math.IsInf(float64(hi), 1):
		return nn.NewReLU(), nil
	}
	return nil, fmt.Errorf("Clip(%v, %v): only Clip(0, 6) (ReLU6) and Clip(0, inf) (ReLU) are supported", lo, hi)
}

// softmax returns the layer of a Softmax of x after checking its axis
// (default -1 from opset 13, 1 before; negative counts from the end).
// Opset 13 normalizes over that one axis, earlier opsets over all axes
// from it on. Supported: the last axis of an NHWC or flat tensor, the
// channel axis 1 of an NCHW image (before opset 13 only if H = W = 1, where
// both agree) and axis 1 of (N, C, 1, 1). Refused: other axes.
func (im *importer) softmax(n *onnxpb.NodeProto, x *value) (nn.Layer, error) {
	def := int64(-1)
	if im.opset < 13 {
		def = 1
	}
	a := intAttr(n, "axis", def)
	r := int64(len(x.shape()) + 1)
	if a < 0 {
		a += r
	}
	ok := false
	switch x.lay {
	case same:
		ok = a == r-1 || (im.opset < 13 && a == 1 && r == 2)
	case nchw:
		ok = a == 1 && (im.opset >= 13 || x.node.Shape()[0]*x.node.Shape()[1] == 1)
	case nc11:
		ok = a == 1
	}
	if !ok {
		return nil, fmt.Errorf("softmax over axis %d of shape %v: only the channel/last axis is supported", a, x.shape())
	}
	l, _ := nn.NewActivation("softmax")
	return l, nil
}
