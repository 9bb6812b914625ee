package onnx

import (
	"fmt"

	"github.com/goqat/goqat/tensor"
)

// tableActivation emits a Keras activation that goqat's integer engine
// computes through a lookup table, as opset 13 nodes writing value out:
//
//	hard_sigmoid          HardSigmoid(x), alpha 1/6, beta 0.5 (Keras 3's relu6(x+3)/6)
//	hard_swish, hard_silu x * HardSigmoid(x) (HardSwish is opset 14)
//	silu, swish           x * Sigmoid(x)
//
// It returns false for any other function.
func tableActivation(b *builder, fn, name, out, x string) (string, bool) {
	switch fn {
	case "hard_sigmoid":
		return b.node("HardSigmoid", name, []string{x}, []string{b.unique(out)}, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5)), true
	case "hard_swish", "hard_silu":
		hs := b.op("HardSigmoid", name+"/hard_sigmoid", []string{x}, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5))
		return b.node("Mul", name, []string{x, hs}, []string{b.unique(out)}), true
	case "silu", "swish":
		s := b.op("Sigmoid", name+"/sigmoid", []string{x})
		return b.node("Mul", name, []string{x, s}, []string{b.unique(out)}), true
	}
	return "", false
}

// broadcastInput returns value v, a tensor of per-sample shape in in the
// exported layout (NCHW for images), reshaped so that ONNX's broadcasting
// against an output of per-sample shape out is goqat's (nn.Multiply): an
// input of lower rank gets its leading 1s after the batch, in goqat's
// layout, then takes the output's layout. Inputs of the output's rank are
// returned as they are (their size-1 dimensions broadcast alike in NCHW).
func broadcastInput(b *builder, name, v string, in, out tensor.Shape) (string, error) {
	if len(in) == len(out) {
		return v, nil
	}
	if len(in) > len(out) {
		return "", fmt.Errorf("input of shape %v has a higher rank than the output %v", in, out)
	}
	if len(in) == 3 {
		v = b.op("Transpose", name+"/nhwc", []string{v}, attrInts("perm", toNHWC...))
	}
	dims := []int64{0} // 0: the batch, copied
	for k := len(in); k < len(out); k++ {
		dims = append(dims, 1)
	}
	for _, d := range in {
		dims = append(dims, int64(d))
	}
	shp := b.int64s(name+"/broadcast_shape", []int{len(dims)}, dims)
	v = b.op("Reshape", name+"/broadcast", []string{v, shp})
	if len(out) == 3 {
		v = b.op("Transpose", name+"/broadcast_nchw", []string{v}, attrInts("perm", toNCHW...))
	}
	return v, nil
}

// multiply emits the product of values ins (per-sample shapes shapes)
// broadcast to out (per-sample shape os), multiplied in input order like
// nn.Multiply, the last Mul writing a value named after res (made
// unique).
func multiply(b *builder, name, res string, ins []string, shapes []tensor.Shape, os tensor.Shape) (string, error) {
	vs := make([]string, len(ins))
	for i, v := range ins {
		bv, err := broadcastInput(b, fmt.Sprintf("%s/in%d", name, i), v, shapes[i], os)
		if err != nil {
			return "", err
		}
		vs[i] = bv
	}
	acc := vs[0]
	for i, y := range vs[1:] {
		o := name + "/partial"
		if i == len(vs)-2 {
			o = res
		}
		acc = b.node("Mul", name, []string{acc, y}, []string{b.unique(o)})
	}
	return acc, nil
}
