// Package onnx converts goqat models to and from ONNX (opset 13, IR
// version 8), the interchange format that ONNX Runtime and most other
// inference engines read.
//
//   - ExportFloat writes a float nn.Model as a float ONNX graph.
//   - ExportInteger writes an integer lite.Model as a QDQ graph: int8
//     weights with per-channel DequantizeLinear, int32 biases, and a
//     QuantizeLinear/DequantizeLinear pair carrying each activation's scale
//     and zero point, the form ONNX Runtime fuses into QLinearConv and
//     friends.
//   - Import turns a float ONNX graph (Conv, BatchNormalization, Relu,
//     Clip, Sigmoid, HardSigmoid, HardSwish, Mul (hardswish and SiLU as
//     one activation, squeeze-and-excitation gates), Add, Concat, pools
//     with explicit pads and ceil_mode, global pools, Gemm, MatMul,
//     Flatten, Reshape, Softmax, Pad, ReduceMean, channel shuffles, Slice
//     and Split; the list is SupportedOps), such as PyTorch exports for
//     torchvision's ResNet, MobileNet v2 and v3, SqueezeNet, ShuffleNet v2
//     and GoogLeNet, into a goqat Functional model with its weights,
//     ready for quantize.Model. Subgraphs computed from constants and
//     static shapes only (Shape, Gather, Unsqueeze, Concat, integer
//     arithmetic, Cast, ...: PyTorch computes torch.chunk's Slice bounds
//     so) are folded into constants at import, with ONNX's int64
//     arithmetic checked for overflow; the dynamic batch size may only
//     reach a Reshape's batch entry.
//
// Layouts: goqat is NHWC, ONNX operators are NCHW. Exported graphs keep
// goqat's interface, an NHWC input "N x H x W x C" with a dynamic batch
// dimension "N", followed by a Transpose to NCHW; every image tensor inside
// the graph is NCHW, and an image output is transposed back to NHWC. A
// Flatten of an image is preceded by a Transpose to NHWC so that features
// come in goqat's (H, W, C) order. Import accepts both an NCHW input (the
// usual form from other tools; the goqat model then takes the same images
// as NHWC) and goqat's NHWC-plus-Transpose form.
//
// ReadFile and Unmarshal are hardened loaders: they bound the file size
// before reading and check every tensor's dimensions against its data
// before allocating.
package onnx
