package models

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// MobileNetTiny is mobilenet-tiny, a small MobileNetV2-style network for
// 28x28 (or 32x32) images. Every convolution is bias-free and followed by
// BatchNormalization; "block(t, c, s)" is an inverted residual block:
// 1x1 Conv2D to t*Cin channels, BN, ReLU6; 3x3 DepthwiseConv2D stride s
// ("same"), BN, ReLU6; 1x1 Conv2D to c channels, BN (linear bottleneck); and
// a residual Add of the block's input when s = 1 and Cin = c.
//
//	stem:    Conv2D 16 3x3 stride 1 same, BN, ReLU6       -> 28x28x16
//	block(2, 24, 2)                                       -> 14x14x24
//	block(3, 24, 1) + residual Add                        -> 14x14x24
//	block(3, 32, 2)                                       ->  7x7x32
//	block(3, 32, 1) + residual Add                        ->  7x7x32
//	head:    Conv2D 64 1x1, BN, ReLU6                     ->  7x7x64
//	GlobalAveragePooling2D, Dense classes (logits)
func MobileNetTiny(in tensor.Shape, classes int) (*nn.Model, error) {
	x0 := nn.Input(in...)
	x := convBN(x0, 16, 3, 1, "same", true)
	x = invertedResidual(x, 2, 24, 2)
	x = invertedResidual(x, 3, 24, 1)
	x = invertedResidual(x, 3, 32, 2)
	x = invertedResidual(x, 3, 32, 1)
	x = convBN(x, 64, 1, 1, "valid", true)
	x = nn.Call(nn.NewGlobalAveragePooling2D(), x)
	x = nn.Call(nn.NewDense(classes), x)
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{x})
	if err != nil {
		return nil, err
	}
	m.SetName("mobilenet_tiny")
	return m, nil
}

// convBN applies a bias-free Conv2D and BatchNormalization, then ReLU6 if
// relu6 is set.
func convBN(x *nn.Node, filters, k, stride int, padding string, relu6 bool) *nn.Node {
	x = nn.Call(conv(filters, k, stride, padding), x)
	x = nn.Call(nn.NewBatchNormalization(), x)
	if relu6 {
		x = nn.Call(nn.NewReLU6(), x)
	}
	return x
}

// invertedResidual is one MobileNetV2 block with expansion t, c output
// channels and stride s.
func invertedResidual(in *nn.Node, t, c, s int) *nn.Node {
	cin := 0
	if sh := in.Shape(); len(sh) == 3 {
		cin = sh[2]
	}
	x := convBN(in, t*cin, 1, 1, "valid", true)
	x = nn.Call(depthwise(s, "same"), x)
	x = nn.Call(nn.NewBatchNormalization(), x)
	x = nn.Call(nn.NewReLU6(), x)
	x = convBN(x, c, 1, 1, "valid", false)
	if s == 1 && cin == c {
		x = nn.Call(nn.NewAdd(), in, x)
	}
	return x
}
