package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/nn"
)

// pool imports MaxPool and AveragePool of an NCHW image as a goqat
// MaxPooling2D or AveragePooling2D: a 2-D window (kernel_shape required,
// strides, dilations 1) with auto_pad, or pads that are none or goqat's
// 'same' padding, and ceil_mode 1 only where every window fits exactly
// (the same as floor). Refused: storage_order 1, MaxPool's Indices output,
// other explicit pads, a window larger than an unpadded image, and
// AveragePool with count_include_pad 1 and explicit pads (goqat averages
// only the cells inside the image).
func (im *importer) pool(n *onnxpb.NodeProto) error {
	x, s, err := im.image(n)
	if err != nil {
		return err
	}
	k, st, err := window(n, [2]int{})
	if err != nil {
		return err
	}
	if intAttr(n, "storage_order", 0) != 0 {
		return errors.New("storage_order 1 is not supported")
	}
	mode, p, err := padding(n, s[0], s[1], k, st)
	if err != nil {
		return err
	}
	if mode == "valid" && p != [4]int{} {
		return fmt.Errorf("explicit pads %v that are neither none nor 'same' are not supported for pooling", ints(n, "pads"))
	}
	if intAttr(n, "ceil_mode", 0) != 0 {
		// Same result as floor only if every window fits exactly.
		pt, pb, pl, pr := 0, 0, 0, 0
		if mode == "same" {
			pt, pb = ops.SamePadding(s[0], k[0], st[0])
			pl, pr = ops.SamePadding(s[1], k[1], st[1])
		}
		if (s[0]+pt+pb-k[0])%st[0] != 0 || (s[1]+pl+pr-k[1])%st[1] != 0 {
			return errors.New("ceil_mode 1 with a partial last window is not supported")
		}
	}
	if s[0] < k[0] || s[1] < k[1] {
		if mode == "valid" {
			return fmt.Errorf("window %v larger than the image %v", k, s)
		}
	}
	var l nn.Layer
	if n.GetOpType() == "MaxPool" {
		if len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
			return errors.New("the Indices output is not supported")
		}
		mp := nn.NewMaxPooling2D(k[0], k[1])
		mp.Strides, mp.Padding = st, mode
		l = mp
	} else {
		if mode == "same" && p != [4]int{} && intAttr(n, "count_include_pad", 0) != 0 {
			return errors.New("count_include_pad 1 with padding is not supported (goqat averages the cells inside the image)")
		}
		ap := nn.NewAveragePooling2D(k[0], k[1])
		ap.Strides, ap.Padding = st, mode
		l = ap
	}
	_, err = im.call(n, l, nchw, x.node)
	return err
}

// globalAveragePool imports GlobalAveragePool: the mean over H and W of an
// NCHW image, (N, C, H, W) -> (N, C, 1, 1), as a goqat
// GlobalAveragePooling2D. Refused: any other input.
func (im *importer) globalAveragePool(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay != nchw {
		return errors.New("input is not an NCHW image")
	}
	_, err = im.call(n, nn.NewGlobalAveragePooling2D(), nc11, x.node)
	return err
}
