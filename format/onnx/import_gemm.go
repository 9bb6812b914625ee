package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// dense imports Gemm and MatMul of a computed (N, K) input by constant 2-D
// weights as a goqat Dense. The input may be a flat tensor, (N, C, 1, 1)
// (read as (N, C)) or a flattened NCHW image (the weight rows are permuted
// from (C, H, W) into goqat's (H, W, C) order). Gemm: transB, alpha (folded
// into the kernel), beta and an optional constant C of shape (units), (1,
// units) or a scalar as the bias. MatMul: the constant operand of a
// following Add, MatMul's only consumer, becomes the bias (that Add is
// skipped and its output aliases the Dense). Refused: transA 1, inputs of
// other ranks, weights that are not a 2-D constant fitting K, and other
// bias shapes.
func (im *importer) dense(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay == nc11 {
		x = &value{node: x.node, lay: same}
	}
	s := x.node.Shape()
	if len(s) != 1 || x.lay == nchw {
		return fmt.Errorf("input of shape %v: flatten it to (N, features) first", x.shape())
	}
	k := s[0]
	b, bd, err := im.floats(n, 1, -1)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if len(bd) != 2 {
		return fmt.Errorf("weights of shape %v, want 2-D", bd)
	}
	isGemm := n.GetOpType() == "Gemm"
	transB := isGemm && intAttr(n, "transB", 0) != 0
	if isGemm && intAttr(n, "transA", 0) != 0 {
		return errors.New("transA 1 is not supported")
	}
	units := bd[1]
	if transB {
		units = bd[0]
	}
	if bd[0]*bd[1] != k*units {
		return fmt.Errorf("weights of shape %v do not fit %d input features", bd, k)
	}
	kernel := b
	if transB {
		kernel = transpose2(b, units, k)
	}
	var bias []float32
	alias := ""
	if isGemm {
		alpha, beta := floatAttr(n, "alpha", 1), floatAttr(n, "beta", 1)
		if alpha != 1 {
			for i := range kernel {
				kernel[i] *= alpha
			}
		}
		c, err := im.constant(n, 2)
		if err != nil {
			return err
		}
		if c != nil {
			if bias, err = broadcastBias(c, units); err != nil {
				return err
			}
			for i := range bias {
				bias[i] *= beta
			}
		}
	} else if cs := im.consumers[n.GetOutput()[0]]; len(cs) == 1 && cs[0].GetOpType() == "Add" && len(cs[0].GetInput()) == 2 &&
		len(cs[0].GetOutput()) > 0 {
		// MatMul + Add(constant) is a Dense with a bias.
		add := cs[0]
		for i, name := range add.GetInput() {
			if name == n.GetOutput()[0] {
				if ct, ok := im.consts[add.GetInput()[1-i]]; ok {
					if bias, err = broadcastBias(ct, units); err != nil {
						return fmt.Errorf("bias %q: %w", ct.GetName(), err)
					}
					im.skip[add] = true
					alias = add.GetOutput()[0]
				}
				break
			}
		}
	}
	if x.lay == chwFlat {
		// Rows in (C, H, W) order -> goqat's (H, W, C) order.
		c, h, w := x.chw[0], x.chw[1], x.chw[2]
		perm := make([]float32, len(kernel))
		for ci := 0; ci < c; ci++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					copy(perm[((y*w+xx)*c+ci)*units:][:units], kernel[((ci*h+y)*w+xx)*units:][:units])
				}
			}
		}
		kernel = perm
	}
	l := nn.NewDense(units)
	l.UseBias = bias != nil
	v, err := im.call(n, l, same, x.node)
	if err != nil {
		return err
	}
	if alias != "" {
		im.vals[alias] = v
	}
	im.setters = append(im.setters, func() error {
		copy(l.Kernel.Value.Data, kernel)
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
		return nil
	})
	return nil
}

// broadcastBias returns a bias of shape (units), (1, units) or a scalar
// as units values.
func broadcastBias(t *onnxpb.TensorProto, units int) ([]float32, error) {
	v, err := floatData(t)
	if err != nil {
		return nil, err
	}
	switch {
	case len(v) == units && (len(t.GetDims()) == 1 || (len(t.GetDims()) == 2 && t.GetDims()[0] == 1)):
		return v, nil
	case len(v) == 1:
		out := make([]float32, units)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("bias of shape %v for %d units", t.GetDims(), units)
}
