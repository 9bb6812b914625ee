package models

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// resNetEps is the BatchNormalization epsilon of the ResNets: Keras's
// resnet.py uses 1.001e-5 (torchvision 1e-5); the momentum is Keras's
// default, 0.99.
const resNetEps = 1.001e-5

// ResNet18 is resnet18: torchvision's resnet18 (He et al. 2016, ResNet v1
// with basic blocks), built from Keras layers as Keras builds its ResNets,
// for an (H, W, C) input of at least 32x32. Layers are named in Keras's
// ResNet style ("conv3_block1_2_conv").
//
// Every convolution is bias-free (as torchvision; Keras's ResNets give
// each convolution a bias, which the BatchNormalization after it makes
// redundant) and followed by BatchNormalization (epsilon 1.001e-5, as
// Keras). A k x k convolution pads k/2 on every side, as torchvision's
// padding=k//2: with stride 1 that is 'same', with stride 2 a
// ZeroPadding2D(k/2) before a 'valid' convolution, as Keras writes its
// stem. The max pool is ZeroPadding2D(1) then MaxPooling2D 3x3 stride 2
// 'valid', as Keras; it follows a ReLU, so padding with zeros gives
// torchvision's result (padding with -inf). "basic(f, s)" is a basic
// block: 3x3 Conv2D f stride s, BN, ReLU; 3x3 Conv2D f, BN; a residual
// Add of the shortcut; ReLU. The shortcut is the block's input, or a
// projection (1x1 Conv2D f stride s, BN) when the shape changes (the first
// block of stages 3, 4 and 5).
//
//	layer                                               output (224x224x3)
//	conv1: ZeroPadding2D 3, Conv2D 64 7x7 stride 2 valid, BN, ReLU  112x112x64
//	pool1: ZeroPadding2D 1, MaxPooling2D 3x3 stride 2 valid          56x56x64
//	conv2: 2 x basic(64, 1)                                          56x56x64
//	conv3: basic(128, 2), basic(128, 1)                              28x28x128
//	conv4: basic(256, 2), basic(256, 1)                              14x14x256
//	conv5: basic(512, 2), basic(512, 1)                               7x7x512
//	avg_pool: GlobalAveragePooling2D                                  512
//	predictions: Dense classes (logits, no softmax)                   classes
//
// At 224x224x3 with 1000 classes the model has 11,689,512 trainable
// parameters, torchvision's count (which leaves out BN's running
// statistics, buffers in PyTorch), plus 9,600 BN moving statistics.
func ResNet18(in tensor.Shape, classes int) (*nn.Model, error) {
	if err := checkImage(in); err != nil {
		return nil, err
	}
	x0 := nn.Input(in...)
	x := resNetStem(x0)
	for i, f := range []int{64, 128, 256, 512} {
		stage := fmt.Sprintf("conv%d", i+2)
		for b := range 2 {
			s := 1
			if i > 0 && b == 0 {
				s = 2
			}
			x = basicBlock(x, fmt.Sprintf("%s_block%d", stage, b+1), f, s)
		}
	}
	return resNetHead("resnet18", x0, x, classes)
}

// ResNet50 is resnet50: ResNet-50 v1.5 (He et al. 2016 with the stride of a
// downsampling bottleneck on its 3x3 convolution, as torchvision's resnet50;
// Keras's ResNet50, v1, has it on the first 1x1 convolution), built from
// Keras layers as Keras builds its ResNets, for an (H, W, C) input of at
// least 32x32. Layers are named as in Keras's ResNet50. The stem, the
// convolutions and the padding are those of ResNet18 (see there).
// "bottleneck(f, s)" is a bottleneck block: 1x1 Conv2D f, BN, ReLU; 3x3
// Conv2D f stride s, BN, ReLU; 1x1 Conv2D 4f, BN; a residual Add of the
// shortcut; ReLU. The shortcut is the block's input, or a projection (1x1
// Conv2D 4f stride s, BN) when the shape changes (the first block of every
// stage).
//
//	layer                                               output (224x224x3)
//	conv1: ZeroPadding2D 3, Conv2D 64 7x7 stride 2 valid, BN, ReLU  112x112x64
//	pool1: ZeroPadding2D 1, MaxPooling2D 3x3 stride 2 valid          56x56x64
//	conv2: 3 x bottleneck(64, 1)                                     56x56x256
//	conv3: bottleneck(128, 2), 3 x bottleneck(128, 1)                28x28x512
//	conv4: bottleneck(256, 2), 5 x bottleneck(256, 1)                14x14x1024
//	conv5: bottleneck(512, 2), 2 x bottleneck(512, 1)                 7x7x2048
//	avg_pool: GlobalAveragePooling2D                                  2048
//	predictions: Dense classes (logits, no softmax)                   classes
//
// At 224x224x3 with 1000 classes the model has 25,610,152 parameters:
// 25,557,032 trainable (torchvision's count) and 53,120 BN moving
// statistics. Keras's ResNet50 counts 25,636,712 because its 53
// convolutions have biases, 26,560 values (one per channel of the
// BatchNormalization after each), which this model leaves out.
func ResNet50(in tensor.Shape, classes int) (*nn.Model, error) {
	if err := checkImage(in); err != nil {
		return nil, err
	}
	x0 := nn.Input(in...)
	x := resNetStem(x0)
	for i, st := range []struct{ f, n int }{{64, 3}, {128, 4}, {256, 6}, {512, 3}} {
		stage := fmt.Sprintf("conv%d", i+2)
		for b := range st.n {
			s := 1
			if i > 0 && b == 0 {
				s = 2
			}
			x = bottleneckBlock(x, fmt.Sprintf("%s_block%d", stage, b+1), st.f, s)
		}
	}
	return resNetHead("resnet50", x0, x, classes)
}

// ResNet20 is resnet20: the CIFAR-10 ResNet of He et al. 2016, section 4.2,
// with n = 3 (6n+2 = 20 weighted layers), for an (H, W, C) input of at
// least 32x32 (CIFAR's size). Its convolutions and blocks are those of
// ResNet18 (see there). The shortcuts are identities, except at the two
// stage changes, where they are projections (1x1 Conv2D stride 2, BN: the
// paper's option B; option A pads with zeros and has no parameters).
//
//	layer                                               output (32x32x3)
//	conv1: Conv2D 16 3x3 same, BN, ReLU                 32x32x16
//	conv2: 3 x basic(16, 1)                             32x32x16
//	conv3: basic(32, 2), 2 x basic(32, 1)               16x16x32
//	conv4: basic(64, 2), 2 x basic(64, 1)                8x8x64
//	avg_pool: GlobalAveragePooling2D                     64
//	predictions: Dense classes (logits, no softmax)      classes
//
// With 10 classes the model has 274,042 parameters: 272,474 trainable
// (the 269,722 of option A plus the two projections' 2,560 weights and
// 192 BN scales and offsets) and 1,568 BN moving statistics.
func ResNet20(in tensor.Shape, classes int) (*nn.Model, error) {
	if err := checkImage(in); err != nil {
		return nil, err
	}
	x0 := nn.Input(in...)
	// conv1: (H, W, C) -> (H, W, 16)
	x := resConv(x0, "conv1", 16, 3, 1, true)
	for i, f := range []int{16, 32, 64} {
		stage := fmt.Sprintf("conv%d", i+2)
		for b := range 3 {
			s := 1
			if i > 0 && b == 0 {
				s = 2
			}
			x = basicBlock(x, fmt.Sprintf("%s_block%d", stage, b+1), f, s)
		}
	}
	return resNetHead("resnet20", x0, x, classes)
}

// resNetStem is the ImageNet ResNets' stem: (H, W, C) -> (ceil(H/2),
// ceil(W/2), 64) by the 7x7 stride-2 convolution, then (ceil(H/4),
// ceil(W/4), 64) by the max pool.
func resNetStem(x *nn.Node) *nn.Node {
	x = resConv(x, "conv1", 64, 7, 2, true)
	// (h, w) -> (h+2, w+2) -> (ceil(h/2), ceil(w/2))
	x = call("pool1_pad", nn.NewZeroPadding2D(1, 1, 1, 1), x)
	pool := nn.NewMaxPooling2D(3, 3)
	pool.Strides = [2]int{2, 2}
	return call("pool1_pool", pool, x)
}

// resNetHead ends a ResNet: (h, w, c) -> (c) -> (classes).
func resNetHead(name string, x0, x *nn.Node, classes int) (*nn.Model, error) {
	x = call("avg_pool", nn.NewGlobalAveragePooling2D(), x)
	x = call("predictions", nn.NewDense(classes), x)
	return finish(name, x0, x)
}

// resConv applies a bias-free k x k Conv2D with the given stride that pads
// k/2 on every side (torchvision's padding=k//2: 'same' for stride 1, a
// ZeroPadding2D before a 'valid' convolution for stride 2), then
// BatchNormalization and, if relu is set, ReLU: (h, w, c) -> (ceil(h/s),
// ceil(w/s), filters). The layers are named prefix+"_pad", "_conv", "_bn"
// and "_relu".
func resConv(x *nn.Node, prefix string, filters, k, stride int, relu bool) *nn.Node {
	padding := "same"
	switch {
	case k == 1:
		padding = "valid"
	case stride != 1:
		p := k / 2
		x = call(prefix+"_pad", nn.NewZeroPadding2D(p, p, p, p), x)
		padding = "valid"
	}
	x = call(prefix+"_conv", conv(filters, k, stride, padding), x)
	x = call(prefix+"_bn", batchNorm(resNetEps, 0.99), x)
	if relu {
		x = call(prefix+"_relu", nn.NewReLU(), x)
	}
	return x
}

// shortcut returns the residual branch of a block from x to out channels
// with the given stride: x itself, or a projection (1x1 Conv2D stride s,
// BN, named prefix+"_0_conv" and "_0_bn") when the shape changes.
func shortcut(x *nn.Node, prefix string, out, stride int) *nn.Node {
	if sh := x.Shape(); stride == 1 && sh != nil && sh[2] == out {
		return x
	}
	return resConv(x, prefix+"_0", out, 1, stride, false)
}

// basicBlock is the basic residual block of ResNet-18 and ResNet-20:
// (h, w, c) -> (ceil(h/s), ceil(w/s), filters).
func basicBlock(x *nn.Node, prefix string, filters, stride int) *nn.Node {
	sc := shortcut(x, prefix, filters, stride)
	y := resConv(x, prefix+"_1", filters, 3, stride, true)
	y = resConv(y, prefix+"_2", filters, 3, 1, false)
	y = call(prefix+"_add", nn.NewAdd(), sc, y)
	return call(prefix+"_out", nn.NewReLU(), y)
}

// bottleneckBlock is ResNet-50 v1.5's bottleneck block, the stride on the
// 3x3 convolution: (h, w, c) -> (ceil(h/s), ceil(w/s), 4 filters).
func bottleneckBlock(x *nn.Node, prefix string, filters, stride int) *nn.Node {
	sc := shortcut(x, prefix, 4*filters, stride)
	y := resConv(x, prefix+"_1", filters, 1, 1, true)
	y = resConv(y, prefix+"_2", filters, 3, stride, true)
	y = resConv(y, prefix+"_3", 4*filters, 1, 1, false)
	y = call(prefix+"_add", nn.NewAdd(), sc, y)
	return call(prefix+"_out", nn.NewReLU(), y)
}
