package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// window reads kernel_shape (checked against k if k is set), strides and
// dilations (must be 1).
func window(n *onnxpb.NodeProto, k [2]int) (kk, s [2]int, err error) {
	ks := ints(n, "kernel_shape")
	if len(ks) == 0 && k == [2]int{} {
		return kk, s, errors.New("kernel_shape is required")
	}
	if len(ks) != 0 {
		if len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > maxInputDim || ks[1] > maxInputDim {
			return kk, s, fmt.Errorf("kernel_shape %v: only 2-D windows are supported", ks)
		}
		if k != [2]int{} && (int(ks[0]) != k[0] || int(ks[1]) != k[1]) {
			return kk, s, fmt.Errorf("kernel_shape %v does not match the weights' %v", ks, k)
		}
		k = [2]int{int(ks[0]), int(ks[1])}
	}
	s = [2]int{1, 1}
	if st := ints(n, "strides"); len(st) != 0 {
		if len(st) != 2 || st[0] < 1 || st[1] < 1 || st[0] > maxInputDim || st[1] > maxInputDim {
			return kk, s, fmt.Errorf("strides %v", st)
		}
		s = [2]int{int(st[0]), int(st[1])}
	}
	for _, d := range ints(n, "dilations") {
		if d != 1 {
			return kk, s, fmt.Errorf("dilations %v: only 1 is supported", ints(n, "dilations"))
		}
	}
	return k, s, nil
}

// pads resolves a window's ONNX padding on an (H, W) image into explicit
// pads (top, bottom, left, right): the pads attribute (auto_pad NOTSET,
// fromAttr true), or auto_pad's: VALID none, SAME_UPPER TensorFlow's
// 'same' (the smaller half before), SAME_LOWER the larger half before.
// Refused: other auto_pad values, pads that are not 4 values in 0..65,536.
func pads(n *onnxpb.NodeProto, h, w int, k, s [2]int) (p [4]int, fromAttr bool, err error) {
	switch ap := string(attrString(n, "auto_pad")); ap {
	case "", "NOTSET":
		pa := ints(n, "pads")
		if len(pa) != 0 && len(pa) != 4 {
			return p, false, fmt.Errorf("pads %v, want 4 values", pa)
		}
		for _, v := range pa {
			if v < 0 || v > maxInputDim {
				return p, false, fmt.Errorf("bad padding %v", pa)
			}
		}
		if len(pa) == 4 {
			p = [4]int{int(pa[0]), int(pa[2]), int(pa[1]), int(pa[3])}
		}
		return p, true, nil
	case "VALID":
		return p, false, nil
	case "SAME_UPPER":
		return samePads(tensor.Shape{h, w}, k, s, "same"), false, nil
	case "SAME_LOWER":
		p = samePads(tensor.Shape{h, w}, k, s, "same")
		return [4]int{p[1], p[0], p[3], p[2]}, false, nil
	default:
		return p, false, fmt.Errorf("auto_pad %q is not supported", ap)
	}
}

// padding resolves a window's ONNX padding on an (H, W) image into a goqat
// padding mode: "same" when the pads are goqat's 'same', else "valid"
// with explicit pads (top, bottom, left, right) that need a ZeroPadding2D.
func padding(n *onnxpb.NodeProto, h, w int, k, s [2]int) (mode string, explicit [4]int, err error) {
	p, _, err := pads(n, h, w, k, s)
	if err != nil {
		return "", p, err
	}
	if p != [4]int{} && p == samePads(tensor.Shape{h, w}, k, s, "same") {
		return "same", p, nil
	}
	return "valid", p, nil
}

// zeroPad inserts a ZeroPadding2D before a node if its padding needs one.
func (im *importer) zeroPad(n *onnxpb.NodeProto, x *nn.Node, p [4]int) (*nn.Node, error) {
	if p == [4]int{} {
		return x, nil
	}
	return im.apply(n, "_pad", nn.NewZeroPadding2D(p[0], p[1], p[2], p[3]), x)
}

// apply applies a helper layer of a node (one the node needs besides its
// own), named after the node with a suffix, and returns its output.
func (im *importer) apply(n *onnxpb.NodeProto, suffix string, l nn.Layer, in ...*nn.Node) (*nn.Node, error) {
	if nm := im.layerName(n.GetName() + suffix); nm != "" {
		l.SetName(nm)
	}
	y := nn.Call(l, in...)
	return y, y.Err()
}
