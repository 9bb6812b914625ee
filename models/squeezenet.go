package models

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// squeezeNetDropout is the dropout rate before SqueezeNet's last
// convolution (0.5, as the original and torchvision).
const squeezeNetDropout = 0.5

// SqueezeNet is squeezenet: SqueezeNet 1.1 (Iandola et al. 2016; the 1.1
// revision of the reference repository, torchvision's squeezenet1_1) in
// Keras layers, for an (H, W, C) input of at least 32x32.
//
// SqueezeNet has no BatchNormalization: every convolution has a bias and is
// followed by ReLU. "fire(s, e)" is a fire module: 1x1 Conv2D s (squeeze),
// ReLU; then 1x1 Conv2D e, ReLU and 3x3 Conv2D e 'same', ReLU (expand),
// both on the squeeze output, joined by Concatenate on the channel axis
// (2e channels, the 1x1 branch first). The max pools are 3x3 stride 2 with
// the original's ceil mode (a last window that overhangs the bottom or
// right edge is kept): on an even size a ZeroPadding2D of one row at the
// bottom and one column at the right comes before a 'valid' MaxPooling2D,
// which gives the same result since the pooled values are ReLU outputs,
// never below 0; on an odd size (every pool at 224x224) nothing overhangs
// and the pool is just 'valid'.
//
//	layer                                               output (224x224x3)
//	conv1: Conv2D 64 3x3 stride 2 valid, ReLU           111x111x64
//	pool1: MaxPooling2D 3x3 stride 2 (ceil mode)         55x55x64
//	fire2: fire(16, 64)                                  55x55x128
//	fire3: fire(16, 64)                                  55x55x128
//	pool3: MaxPooling2D 3x3 stride 2 (ceil mode)         27x27x128
//	fire4: fire(32, 128)                                 27x27x256
//	fire5: fire(32, 128)                                 27x27x256
//	pool5: MaxPooling2D 3x3 stride 2 (ceil mode)         13x13x256
//	fire6: fire(48, 192)                                 13x13x384
//	fire7: fire(48, 192)                                 13x13x384
//	fire8: fire(64, 256)                                 13x13x512
//	fire9: fire(64, 256)                                 13x13x512
//	drop9: Dropout 0.5                                   13x13x512
//	conv10: Conv2D classes 1x1, ReLU                     13x13xclasses
//	pool10: GlobalAveragePooling2D                       classes
//
// The head is the original's, kept as it is: a 1x1 convolution to the
// classes, ReLU, and global average pooling. The output is therefore the
// mean of non-negative class maps, not the unbounded logits of a Dense
// layer. goqat trains it with these outputs as logits (softmax
// cross-entropy on them, as torchvision and the original do); a class
// whose map is zero everywhere after the ReLU passes no gradient to its
// filter of conv10. There is no Dense layer.
//
// At 224x224x3 with 1000 classes the model has 1,235,496 parameters,
// torchvision's count (there is no BatchNormalization, so no moving
// statistics).
func SqueezeNet(in tensor.Shape, classes int) (*nn.Model, error) {
	if err := checkImage(in); err != nil {
		return nil, err
	}
	x0 := nn.Input(in...)
	// conv1: (H, W, C) -> (floor((H-3)/2)+1, floor((W-3)/2)+1, 64)
	c1 := nn.NewConv2D(64, 3, 3)
	c1.Strides = [2]int{2, 2}
	x := call("conv1", c1, x0)
	x = call("relu_conv1", nn.NewReLU(), x)
	x = ceilMaxPool(x, "pool1")
	x = fire(x, "fire2", 16, 64)
	x = fire(x, "fire3", 16, 64)
	x = ceilMaxPool(x, "pool3")
	x = fire(x, "fire4", 32, 128)
	x = fire(x, "fire5", 32, 128)
	x = ceilMaxPool(x, "pool5")
	x = fire(x, "fire6", 48, 192)
	x = fire(x, "fire7", 48, 192)
	x = fire(x, "fire8", 64, 256)
	x = fire(x, "fire9", 64, 256)
	x = call("drop9", nn.NewDropout(squeezeNetDropout), x)
	// (h, w, 512) -> (h, w, classes) -> (classes)
	x = call("conv10", nn.NewConv2D(classes, 1, 1), x)
	x = call("relu_conv10", nn.NewReLU(), x)
	x = call("pool10", nn.NewGlobalAveragePooling2D(), x)
	return finish("squeezenet1_1", x0, x)
}

// fire is a fire module: (h, w, c) -> (h, w, 2 expand). Its layers are
// named prefix+"_squeeze1x1", "_expand1x1", "_expand3x3" (with "_relu"
// after each) and "_concat".
func fire(x *nn.Node, prefix string, squeeze, expand int) *nn.Node {
	s := call(prefix+"_squeeze1x1", nn.NewConv2D(squeeze, 1, 1), x)
	s = call(prefix+"_squeeze1x1_relu", nn.NewReLU(), s)
	e1 := call(prefix+"_expand1x1", nn.NewConv2D(expand, 1, 1), s)
	e1 = call(prefix+"_expand1x1_relu", nn.NewReLU(), e1)
	c3 := nn.NewConv2D(expand, 3, 3)
	c3.Padding = "same"
	e3 := call(prefix+"_expand3x3", c3, s)
	e3 = call(prefix+"_expand3x3_relu", nn.NewReLU(), e3)
	return call(prefix+"_concat", nn.NewConcatenate(), e1, e3)
}

// ceilMaxPool is a 3x3 stride-2 max pool in ceil mode on ReLU outputs:
// (h, w, c) -> (ceil((h-3)/2)+1, ceil((w-3)/2)+1, c). A dimension of even
// size gets one zero row (column) at the bottom (right) first, named
// prefix+"_pad", so that the 'valid' pool keeps the overhanging window.
func ceilMaxPool(x *nn.Node, name string) *nn.Node {
	if sh := x.Shape(); sh != nil && (sh[0]%2 == 0 || sh[1]%2 == 0) {
		x = call(name+"_pad", nn.NewZeroPadding2D(0, 1-sh[0]%2, 0, 1-sh[1]%2), x)
	}
	pool := nn.NewMaxPooling2D(3, 3)
	pool.Strides = [2]int{2, 2}
	return call(name, pool, x)
}
