package tflite

import (
	"math/rand/v2"
	"sort"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// mb builds small integer models by hand.
type mb struct {
	m *lite.Model
	r *rand.Rand
}

func newMB(r *rand.Rand, in tensor.Shape) (*mb, int) {
	b := &mb{m: &lite.Model{Name: "ops"}, r: r}
	b.m.Tensors = append(b.m.Tensors, lite.Tensor{Name: "input", Shape: in, DType: lite.Float32})
	b.m.Inputs = []int{0}
	q := b.act("input_q", in, 4.0/255, -3)
	b.m.Ops = append(b.m.Ops, lite.Op{Type: lite.OpQuantize, Name: "quantize", Inputs: []int{0}, Output: q})
	return b, q
}

// act adds an int8 tensor.
func (b *mb) act(name string, shape tensor.Shape, scale float32, zp int32) int {
	b.m.Tensors = append(b.m.Tensors, lite.Tensor{Name: name, Shape: shape, DType: lite.Int8, Scale: scale, ZeroPoint: zp, Bits: 8})
	return len(b.m.Tensors) - 1
}

// op appends op writing a new tensor of the given shape and parameters.
func (b *mb) op(op lite.Op, shape tensor.Shape, scale float32, zp int32) int {
	op.Output = b.act(op.Name, shape, scale, zp)
	b.m.Ops = append(b.m.Ops, op)
	return op.Output
}

// same appends op writing a tensor with x's parameters.
func (b *mb) same(op lite.Op, x int, shape tensor.Shape) int {
	t := b.m.Tensors[x]
	return b.op(op, shape, t.Scale, t.ZeroPoint)
}

// weights fills a weighted op's kernel, scales and bias.
func (b *mb) weights(op *lite.Op, shape tensor.Shape, perChannel bool) {
	op.WeightShape, op.WeightBits = shape, 8
	op.Weights = make([]int8, shape.Size())
	for i := range op.Weights {
		op.Weights[i] = int8(b.r.IntN(255) - 127)
	}
	oc := shape[len(shape)-1]
	n := 1
	if perChannel {
		n = oc
	}
	for range n {
		op.WeightScales = append(op.WeightScales, 0.002+0.01*b.r.Float32())
	}
	op.Bias = make([]int32, oc)
	for i := range op.Bias {
		op.Bias[i] = int32(b.r.IntN(2001) - 1000)
	}
}

// finish dequantizes x as the model's output.
func (b *mb) finish(x int) *lite.Model {
	t := b.m.Tensors[x]
	b.m.Tensors = append(b.m.Tensors, lite.Tensor{Name: "output", Shape: t.Shape, DType: lite.Float32})
	out := len(b.m.Tensors) - 1
	b.m.Ops = append(b.m.Ops, lite.Op{Type: lite.OpDequantize, Name: "dequantize", Inputs: []int{x}, Output: out})
	b.m.Outputs = []int{out}
	return b.m
}

// opModels returns small models covering the exported ops and options.
func opModels(r *rand.Rand) map[string]*lite.Model {
	ms := map[string]*lite.Model{}

	// Squeeze-and-excitation: a global pool, a per-tensor
	// FullyConnected, HardSwish, a Reshape and a broadcast Mul with a
	// fused ReLU.
	b, x := newMB(r, tensor.Shape{5, 6, 4})
	g := b.same(lite.Op{Type: lite.OpGlobalAveragePool, Name: "gap", Inputs: []int{x}}, x, tensor.Shape{4})
	fc := lite.Op{Type: lite.OpFullyConnected, Name: "fc", Inputs: []int{g}}
	b.weights(&fc, tensor.Shape{4, 4}, false)
	f := b.op(fc, tensor.Shape{4}, 0.05, 3)
	h := b.op(lite.Op{Type: lite.OpHardSwish, Name: "hswish", Inputs: []int{f}}, tensor.Shape{4}, 0.04, -20)
	s := b.same(lite.Op{Type: lite.OpReshape, Name: "reshape", Inputs: []int{h}}, h, tensor.Shape{1, 1, 4})
	ms["se_mul"] = b.finish(b.op(lite.Op{Type: lite.OpMul, Name: "mul", Inputs: []int{x, s}, Activation: "relu"}, tensor.Shape{5, 6, 4}, 0.03, -5))

	// Softmax after a per-channel FullyConnected.
	b, x = newMB(r, tensor.Shape{12})
	fc = lite.Op{Type: lite.OpFullyConnected, Name: "fc", Inputs: []int{x}, Activation: "relu6"}
	b.weights(&fc, tensor.Shape{12, 7}, true)
	f = b.op(fc, tensor.Shape{7}, 0.03, -128)
	ms["softmax"] = b.finish(b.op(lite.Op{Type: lite.OpSoftmax, Name: "softmax", Inputs: []int{f}}, tensor.Shape{7}, 1.0/256, -128))

	// Logistic, Tanh and HardSwish concatenated with requantization, an
	// Add with a fused ReLU6.
	b, x = newMB(r, tensor.Shape{3, 4, 2})
	l := b.op(lite.Op{Type: lite.OpLogistic, Name: "sigmoid", Inputs: []int{x}}, tensor.Shape{3, 4, 2}, 1.0/256, -128)
	th := b.op(lite.Op{Type: lite.OpTanh, Name: "tanh", Inputs: []int{x}}, tensor.Shape{3, 4, 2}, 1.0/128, 0)
	hs := b.op(lite.Op{Type: lite.OpHardSwish, Name: "hswish", Inputs: []int{x}}, tensor.Shape{3, 4, 2}, 0.02, -100)
	c := b.op(lite.Op{Type: lite.OpConcatenation, Name: "concat", Inputs: []int{l, th, hs}}, tensor.Shape{3, 4, 6}, 0.015, -60)
	c2 := b.op(lite.Op{Type: lite.OpConcatenation, Name: "concat_h", Inputs: []int{c, c}, AxisFromEnd: 2}, tensor.Shape{6, 4, 6}, 0.015, -60)
	ms["activations_concat"] = b.finish(b.op(lite.Op{Type: lite.OpAdd, Name: "add", Inputs: []int{c2, c2}, Activation: "relu6"}, tensor.Shape{6, 4, 6}, 0.03, -128))

	// Pad, strided Slices, SAME pools.
	b, x = newMB(r, tensor.Shape{7, 9, 5})
	p := b.same(lite.Op{Type: lite.OpPad, Name: "pad", Inputs: []int{x}, Pad: [4]int{1, 2, 0, 1}}, x, tensor.Shape{10, 10, 5})
	sl := b.same(lite.Op{Type: lite.OpSlice, Name: "slice_w", Inputs: []int{p}, AxisFromEnd: 1, Begin: 1, End: 10, Step: 2}, x, tensor.Shape{10, 5, 5})
	sc := b.same(lite.Op{Type: lite.OpSlice, Name: "slice_c", Inputs: []int{sl}, Begin: 1, End: 4}, x, tensor.Shape{10, 5, 3})
	mp := b.same(lite.Op{Type: lite.OpMaxPool, Name: "maxpool", Inputs: []int{sc}, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}, Pad: [4]int{0, 1, 1, 1}}, x, tensor.Shape{5, 3, 3})
	ap := b.same(lite.Op{Type: lite.OpAveragePool, Name: "avgpool", Inputs: []int{mp}, Kernel: [2]int{2, 2}, Strides: [2]int{1, 1}, Pad: [4]int{0, 1, 0, 1}}, x, tensor.Shape{5, 3, 3})
	ms["pad_slice_pools"] = b.finish(b.same(lite.Op{Type: lite.OpGlobalMaxPool, Name: "gmp", Inputs: []int{ap}}, x, tensor.Shape{3}))

	// Convolutions: depth multiplier 2 with dilation 2 (SAME), explicit
	// asymmetric padding (PAD + VALID), stride 2 (SAME), per-tensor
	// weights, no bias.
	b, x = newMB(r, tensor.Shape{9, 8, 3})
	dw := lite.Op{Type: lite.OpDepthwiseConv2D, Name: "dw", Inputs: []int{x}, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
		Dilation: [2]int{2, 2}, Pad: [4]int{2, 2, 2, 2}, DepthMultiplier: 2, Activation: "relu"}
	b.weights(&dw, tensor.Shape{3, 3, 6}, true)
	d := b.op(dw, tensor.Shape{9, 8, 6}, 0.05, -100)
	cv := lite.Op{Type: lite.OpConv2D, Name: "conv_pad", Inputs: []int{d}, Kernel: [2]int{3, 2}, Strides: [2]int{1, 1}, Pad: [4]int{1, 0, 1, 0}}
	b.weights(&cv, tensor.Shape{3, 2, 6, 5}, true)
	c1 := b.op(cv, tensor.Shape{8, 8, 5}, 0.1, 10)
	cv2 := lite.Op{Type: lite.OpConv2D, Name: "conv_s2", Inputs: []int{c1}, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}, Pad: [4]int{1, 1, 1, 1}, Activation: "relu6"}
	b.weights(&cv2, tensor.Shape{3, 3, 5, 4}, false)
	cv2.Bias = nil
	ms["convolutions"] = b.finish(b.op(cv2, tensor.Shape{4, 4, 4}, 0.08, -128))

	// A MEAN as an imported .tflite has it (a GlobalAveragePool marked
	// TFLiteMean), over an even count: ties.
	b, x = newMB(r, tensor.Shape{4, 6, 8})
	ms["mean"] = b.finish(b.same(lite.Op{Type: lite.OpGlobalAveragePool, Name: "mean", Inputs: []int{x}, TFLiteMean: true}, x, tensor.Shape{8}))
	return ms
}

// sortedNames returns the models' names in order, so that the tests draw
// their random inputs in the same order every run.
func sortedNames(ms map[string]*lite.Model) []string {
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
