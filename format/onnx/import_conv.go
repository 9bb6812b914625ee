package onnx

import (
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// conv imports Conv: a 2-D convolution of an NCHW image by constant weights
// W (OC, C/group, KH, KW) and an optional constant bias B (OC).
// Supported: group 1 (a Conv2D, weights reordered to (KH, KW, C, OC)) and
// depthwise group = C with one filter per channel, C > 1 (a
// DepthwiseConv2D, weights (C, 1, KH, KW) reordered to (KH, KW, C, 1));
// kernel_shape (must match W), strides, pads and auto_pad (NOTSET, VALID,
// SAME_UPPER, SAME_LOWER; pads that are neither none nor goqat's 'same'
// become a ZeroPadding2D before the layer). A 1x1 Conv (group 1, no
// padding) of an (N, C, 1, 1) input, as in squeeze-and-excitation blocks
// after a GlobalAveragePool, is a Dense (conv1x1). Refused: other inputs,
// weights that are not a 4-D constant, other groups (grouped convolutions,
// channel multipliers: goqat's Conv2D has no groups), dilations other than
// 1 and a bias of the wrong size.
func (im *importer) conv(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	wt, err := im.constant(n, 1)
	if err != nil || wt == nil {
		return fmt.Errorf("weights: %v", err)
	}
	w, err := floatData(wt)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	wd := dims(wt)
	if len(wd) != 4 {
		return fmt.Errorf("weights of shape %v: only 2-D convolutions are supported", wd)
	}
	oc, cg, kh, kw := wd[0], wd[1], wd[2], wd[3]
	k, st, err := window(n, [2]int{kh, kw})
	if err != nil {
		return err
	}
	var bias []float32
	if bt, err := im.constant(n, 2); err != nil {
		return err
	} else if bt != nil {
		if bias, err = floatData(bt); err != nil || len(bias) != oc {
			return fmt.Errorf("bias: %d values for %d channels (%v)", len(bias), oc, err)
		}
	}
	group := int(intAttr(n, "group", 1))
	if x.lay == nc11 {
		return im.conv1x1(n, x, wd, w, bias, group)
	}
	x, s, err := im.image(n)
	if err != nil {
		return err
	}
	c := s[2]
	depthwise := group == c && cg == 1 && oc == c && c > 1
	if !(group == 1 && cg == c) && !depthwise {
		return fmt.Errorf("group %d with weights %v on %d channels: only group 1 and depthwise (group = channels, one filter each) are supported "+
			"(goqat's Conv2D has no groups)", group, wd, c)
	}
	mode, p, err := padding(n, s[0], s[1], k, st)
	if err != nil {
		return err
	}
	xn := x.node
	if mode == "valid" {
		if xn, err = im.zeroPad(n, xn, p); err != nil {
			return err
		}
	}
	if depthwise {
		l := nn.NewDepthwiseConv2D(kh, kw)
		l.Strides, l.Padding, l.UseBias = st, mode, bias != nil
		if _, err := im.call(n, l, nchw, xn); err != nil {
			return err
		}
		im.setters = append(im.setters, func() error {
			// (C, 1, KH, KW) -> (KH, KW, C, 1)
			dst := l.DepthwiseKernel.Value.Data
			for ch := 0; ch < c; ch++ {
				for y := 0; y < kh; y++ {
					for xx := 0; xx < kw; xx++ {
						dst[(y*kw+xx)*c+ch] = w[(ch*kh+y)*kw+xx]
					}
				}
			}
			if bias != nil {
				copy(l.Bias.Value.Data, bias)
			}
			return nil
		})
		return nil
	}
	l := nn.NewConv2D(oc, kh, kw)
	l.Strides, l.Padding, l.UseBias = st, mode, bias != nil
	if _, err := im.call(n, l, nchw, xn); err != nil {
		return err
	}
	im.setters = append(im.setters, func() error {
		// (OC, C, KH, KW) -> (KH, KW, C, OC)
		dst := l.Kernel.Value.Data
		for o := 0; o < oc; o++ {
			for i := 0; i < c; i++ {
				for y := 0; y < kh; y++ {
					for xx := 0; xx < kw; xx++ {
						dst[((y*kw+xx)*c+i)*oc+o] = w[((o*c+i)*kh+y)*kw+xx]
					}
				}
			}
		}
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
		return nil
	})
	return nil
}

// conv1x1 imports a Conv of an (N, C, 1, 1) input x by weights w (OC, C,
// 1, 1) as a goqat Dense with the kernel (C, OC) and the optional bias:
// the output is (N, OC, 1, 1). Refused: groups, windows other than 1x1,
// and padding.
func (im *importer) conv1x1(n *onnxpb.NodeProto, x *value, wd []int, w, bias []float32, group int) error {
	c := x.node.Shape()[0]
	if group != 1 || wd[1] != c || wd[2] != 1 || wd[3] != 1 {
		return fmt.Errorf("weights %v, group %d on a (N, %d, 1, 1) input: only 1x1 convolutions with group 1 are supported there", wd, group, c)
	}
	if p, _, err := pads(n, 1, 1, [2]int{1, 1}, [2]int{1, 1}); err != nil || p != [4]int{} {
		return fmt.Errorf("padding %v of a (N, %d, 1, 1) input is not supported (%v)", p, c, err)
	}
	oc := wd[0]
	l := nn.NewDense(oc)
	l.UseBias = bias != nil
	if _, err := im.call(n, l, nc11, x.node); err != nil {
		return err
	}
	im.setters = append(im.setters, func() error {
		copy(l.Kernel.Value.Data, transpose2(w, oc, c)) // (OC, C) -> (C, OC)
		if bias != nil {
			copy(l.Bias.Value.Data, bias)
		}
		return nil
	})
	return nil
}
