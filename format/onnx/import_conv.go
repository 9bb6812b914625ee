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
// become a ZeroPadding2D before the layer). Refused: an input that is not
// an NCHW image, weights that are not a 4-D constant, other groups
// (grouped convolutions, channel multipliers), dilations other than 1 and
// a bias of the wrong size.
func (im *importer) conv(n *onnxpb.NodeProto) error {
	x, s, err := im.image(n)
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
	c := s[2]
	k, st, err := window(n, [2]int{kh, kw})
	if err != nil {
		return err
	}
	group := int(intAttr(n, "group", 1))
	depthwise := group == c && cg == 1 && oc == c && c > 1
	if !(group == 1 && cg == c) && !depthwise {
		return fmt.Errorf("group %d with weights %v on %d channels: only group 1 and depthwise (group = channels, one filter each) are supported", group, wd, c)
	}
	var bias []float32
	if bt, err := im.constant(n, 2); err != nil {
		return err
	} else if bt != nil {
		if bias, err = floatData(bt); err != nil || len(bias) != oc {
			return fmt.Errorf("bias: %d values for %d channels (%v)", len(bias), oc, err)
		}
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
