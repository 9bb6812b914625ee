package models

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// MobileNetV2's BatchNormalization hyper-parameters (Keras's
// mobilenet_v2.py: epsilon 1e-3, momentum 0.999).
const (
	mobileNetV2Eps      = 1e-3
	mobileNetV2Momentum = 0.999
)

// MobileNetV2 is mobilenet-v2: Keras applications' MobileNetV2 (Sandler et
// al. 2018) with width multiplier alpha, in (0, 4], for an (H, W, C) input
// of at least 32x32. Layers are named as Keras names them.
//
// Every convolution is bias-free and followed by BatchNormalization
// (epsilon 1e-3, momentum 0.999, as Keras). Channel counts are rounded as
// Keras does: the first convolution has make_divisible(32 * alpha) channels
// and a block of c channels make_divisible(int(c * alpha)), where
// make_divisible(v) rounds v to the nearest multiple of 8, at least 8 and
// at least 90% of v; the last convolution has 1280 channels, and
// make_divisible(1280 * alpha) only for alpha > 1 (it is not scaled
// down). "block(t, c, s)" is an inverted residual block with a linear
// bottleneck: 1x1 Conv2D to t * Cin channels, BN, ReLU6 (left out when
// t = 1, in the first block); 3x3 DepthwiseConv2D stride s, BN, ReLU6; 1x1
// Conv2D to c channels, BN, no activation; and a residual Add of the
// block's input when s = 1 and Cin = c. With stride 2 the depthwise
// convolution is 'valid' after a ZeroPadding2D of Keras's correct_pad
// (one row and column at the bottom and right of an even size, one on
// every side of an odd size, i.e. TensorFlow's 'same'); with stride 1 it
// is 'same'. The first convolution is 'same' with stride 2, as in Keras.
// There is no dropout (Keras's MobileNetV2 has none).
//
//	layer                                           output (224x224x3, alpha 1)
//	Conv1: Conv2D 32 3x3 stride 2 same, BN, ReLU6   112x112x32
//	block(1, 16, 1)                                 112x112x16
//	block(6, 24, 2), block(6, 24, 1) + Add           56x56x24
//	block(6, 32, 2), 2 x block(6, 32, 1) + Add       28x28x32
//	block(6, 64, 2), 3 x block(6, 64, 1) + Add       14x14x64
//	block(6, 96, 1), 2 x block(6, 96, 1) + Add       14x14x96
//	block(6, 160, 2), 2 x block(6, 160, 1) + Add      7x7x160
//	block(6, 320, 1)                                  7x7x320
//	Conv_1: Conv2D 1280 1x1, BN, ReLU6                7x7x1280
//	GlobalAveragePooling2D                            1280
//	Dense classes (logits, no softmax)                classes
//
// At 224x224x3 with alpha 1 and 1000 classes the model has 3,538,984
// parameters, Keras's count: 3,504,872 trainable and 34,112 BN moving
// statistics.
func MobileNetV2(in tensor.Shape, classes int, alpha float64) (*nn.Model, error) {
	if err := checkAlpha(alpha); err != nil {
		return nil, err
	}
	if err := checkImage(in); err != nil {
		return nil, err
	}
	x0 := nn.Input(in...)
	// Conv1: (H, W, C) -> (ceil(H/2), ceil(W/2), make_divisible(32 alpha))
	x := call("Conv1", conv(makeDivisible(32*alpha), 3, 2, "same"), x0)
	x = call("bn_Conv1", batchNorm(mobileNetV2Eps, mobileNetV2Momentum), x)
	x = call("Conv1_relu", nn.NewReLU6(), x)
	stages := []struct{ t, c, n, s int }{
		{1, 16, 1, 1},
		{6, 24, 2, 2},
		{6, 32, 3, 2},
		{6, 64, 4, 2},
		{6, 96, 3, 1},
		{6, 160, 3, 2},
		{6, 320, 1, 1},
	}
	id := 0
	for _, st := range stages {
		for i := range st.n {
			s := st.s
			if i > 0 {
				s = 1
			}
			x = invertedResidualV2(x, st.t, makeDivisible(float64(int(float64(st.c)*alpha))), s, id)
			id++
		}
	}
	last := 1280
	if alpha > 1 {
		last = makeDivisible(1280 * alpha)
	}
	// (h, w, make_divisible(320 alpha)) -> (h, w, last)
	x = call("Conv_1", conv(last, 1, 1, "valid"), x)
	x = call("Conv_1_bn", batchNorm(mobileNetV2Eps, mobileNetV2Momentum), x)
	x = call("out_relu", nn.NewReLU6(), x)
	// (h, w, last) -> (last) -> (classes)
	x = call("global_average_pooling2d", nn.NewGlobalAveragePooling2D(), x)
	x = call("predictions", nn.NewDense(classes), x)
	return finish(fmt.Sprintf("mobilenetv2_%.2f_%d", alpha, in[0]), x0, x)
}

// makeDivisible is Keras's _make_divisible(v, 8): v rounded to the nearest
// multiple of 8 (halves up), at least 8, and raised by 8 if rounding lost
// more than 10% of v.
func makeDivisible(v float64) int {
	const d = 8
	n := max(d, int(v+d/2)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// invertedResidualV2 is Keras's _inverted_res_block number id with
// expansion t, c output channels and stride s: (h, w, cin) -> (h, w, c)
// with stride 1, (ceil(h/2), ceil(w/2), c) with stride 2.
func invertedResidualV2(in *nn.Node, t, c, s, id int) *nn.Node {
	if in.Err() != nil {
		return in // NewModel reports the error
	}
	cin := in.Shape()[2]
	prefix := fmt.Sprintf("block_%d_", id)
	x := in
	if id > 0 {
		// (h, w, cin) -> (h, w, t cin)
		x = call(prefix+"expand", conv(t*cin, 1, 1, "same"), x)
		x = call(prefix+"expand_BN", batchNorm(mobileNetV2Eps, mobileNetV2Momentum), x)
		x = call(prefix+"expand_relu", nn.NewReLU6(), x)
	} else {
		prefix = "expanded_conv_"
	}
	padding := "same"
	if s == 2 {
		padding = "valid"
		if x.Err() == nil { // else NewModel reports the error
			// (h, w) -> (h + h%2 + 1, w + w%2 + 1)
			x = call(prefix+"pad", correctPad(x.Shape()), x)
		}
	}
	x = call(prefix+"depthwise", depthwise(s, padding), x)
	x = call(prefix+"depthwise_BN", batchNorm(mobileNetV2Eps, mobileNetV2Momentum), x)
	x = call(prefix+"depthwise_relu", nn.NewReLU6(), x)
	// (h', w', t cin) -> (h', w', c): the linear bottleneck
	x = call(prefix+"project", conv(c, 1, 1, "same"), x)
	x = call(prefix+"project_BN", batchNorm(mobileNetV2Eps, mobileNetV2Momentum), x)
	if s == 1 && cin == c {
		x = call(prefix+"add", nn.NewAdd(), in, x)
	}
	return x
}

// correctPad is Keras's imagenet_utils.correct_pad for a 3x3 kernel: the
// ZeroPadding2D before a 'valid' stride-2 convolution that gives the output
// of TensorFlow's 'same' padding. An even size gets one row (column) at the
// bottom (right), an odd size one on both sides.
func correctPad(sh tensor.Shape) *nn.ZeroPadding2D {
	return nn.NewZeroPadding2D(sh[0]%2, 1, sh[1]%2, 1)
}
