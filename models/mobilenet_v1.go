package models

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// mobileNetV1Dropout is the dropout rate before MobileNet's classifier
// (Keras's default dropout=1e-3).
const mobileNetV1Dropout = 1e-3

// MobileNetV1 is mobilenet-v1: Keras applications' MobileNet (Howard et al.
// 2017) with width multiplier alpha, in (0, 4], for an (H, W, C) input of at
// least 32x32. Layers are named as Keras names them.
//
// Every convolution is bias-free and followed by BatchNormalization (Keras's
// defaults: momentum 0.99, epsilon 1e-3) and ReLU6. A layer of c channels
// has int(c * alpha) of them (truncated, as Keras does). "dw(c, s)" is a
// depthwise separable block: 3x3 DepthwiseConv2D stride s, BN, ReLU6, then
// 1x1 Conv2D to int(c * alpha) channels, BN, ReLU6. With stride 2 the
// depthwise convolution is 'valid' after a ZeroPadding2D of one row at the
// bottom and one column at the right, as Keras writes it (the same as
// 'same' on even sizes); with stride 1 it is 'same'. The first convolution
// is 'same' with stride 2, as in Keras.
//
//	layer                                          output (224x224x3, alpha 1)
//	conv1: Conv2D 32 3x3 stride 2 same, BN, ReLU6  112x112x32
//	dw(64, 1)                                      112x112x64
//	dw(128, 2)                                      56x56x128
//	dw(128, 1)                                      56x56x128
//	dw(256, 2)                                      28x28x256
//	dw(256, 1)                                      28x28x256
//	dw(512, 2)                                      14x14x512
//	5 x dw(512, 1)                                  14x14x512
//	dw(1024, 2)                                      7x7x1024
//	dw(1024, 1)                                      7x7x1024
//	GlobalAveragePooling2D                           1024
//	Dropout 0.001                                    1024
//	Dense classes (logits)                           classes
//
// Keras's classifier is GlobalAveragePooling2D(keepdims=True), Dropout, a
// 1x1 Conv2D with bias ("conv_preds") and a Reshape to (classes): on a 1x1
// map that convolution is exactly a Dense layer with the same weights and
// the same parameter count, which is what this model has ("predictions").
// There is no softmax: the output is logits, as goqat trains from logits.
//
// At 224x224x3 with alpha 1 and 1000 classes the model has 4,253,864
// parameters, Keras's count: 4,231,976 trainable and 21,888 BN moving
// statistics.
func MobileNetV1(in tensor.Shape, classes int, alpha float64) (*nn.Model, error) {
	if err := checkAlpha(alpha); err != nil {
		return nil, err
	}
	if err := checkImage(in); err != nil {
		return nil, err
	}
	// width is Keras's int(filters * alpha).
	width := func(c int) int { return int(float64(c) * alpha) }
	if width(32) < 1 {
		return nil, fmt.Errorf("alpha %v is too small: the first convolution would have no channels (MobileNet needs alpha >= 1/32)", alpha)
	}
	x0 := nn.Input(in...)
	// conv1: (H, W, C) -> (ceil(H/2), ceil(W/2), width(32))
	x := call("conv1", conv(width(32), 3, 2, "same"), x0)
	x = call("conv1_bn", nn.NewBatchNormalization(), x)
	x = call("conv1_relu", nn.NewReLU6(), x)
	blocks := []struct{ c, s int }{
		{64, 1},
		{128, 2}, {128, 1},
		{256, 2}, {256, 1},
		{512, 2}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1},
		{1024, 2}, {1024, 1},
	}
	for i, b := range blocks {
		x = depthwiseSeparable(x, width(b.c), b.s, i+1)
	}
	// (h, w, width(1024)) -> (width(1024)) -> (classes)
	x = call("global_average_pooling2d", nn.NewGlobalAveragePooling2D(), x)
	x = call("dropout", nn.NewDropout(mobileNetV1Dropout), x)
	x = call("predictions", nn.NewDense(classes), x)
	return finish(fmt.Sprintf("mobilenet_%.2f_%d", alpha, in[0]), x0, x)
}

// depthwiseSeparable is Keras's _depthwise_conv_block number id: (h, w, c)
// -> (h, w, filters) with stride 1, (floor(h/2), floor(w/2), filters) with
// stride 2.
func depthwiseSeparable(x *nn.Node, filters, stride, id int) *nn.Node {
	padding := "same"
	if stride != 1 {
		// (h, w, c) -> (h+1, w+1, c); the 'valid' stride-2 convolution
		// then gives (floor(h/2), floor(w/2), c).
		x = call(fmt.Sprintf("conv_pad_%d", id), nn.NewZeroPadding2D(0, 1, 0, 1), x)
		padding = "valid"
	}
	x = call(fmt.Sprintf("conv_dw_%d", id), depthwise(stride, padding), x)
	x = call(fmt.Sprintf("conv_dw_%d_bn", id), nn.NewBatchNormalization(), x)
	x = call(fmt.Sprintf("conv_dw_%d_relu", id), nn.NewReLU6(), x)
	x = call(fmt.Sprintf("conv_pw_%d", id), conv(filters, 1, 1, "same"), x)
	x = call(fmt.Sprintf("conv_pw_%d_bn", id), nn.NewBatchNormalization(), x)
	return call(fmt.Sprintf("conv_pw_%d_relu", id), nn.NewReLU6(), x)
}
