package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/nn"
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

// padding resolves a window's ONNX padding on an (H, W) image into a goqat
// padding mode, or explicit pads (top, bottom, left, right) that need a
// ZeroPadding2D.
func padding(n *onnxpb.NodeProto, h, w int, k, s [2]int) (mode string, explicit [4]int, err error) {
	var p [4]int // top, bottom, left, right
	switch ap := string(attrString(n, "auto_pad")); ap {
	case "", "NOTSET":
		pads := ints(n, "pads")
		if len(pads) != 0 && len(pads) != 4 {
			return "", p, fmt.Errorf("pads %v, want 4 values", pads)
		}
		if len(pads) == 4 {
			p = [4]int{int(pads[0]), int(pads[2]), int(pads[1]), int(pads[3])}
		}
	case "VALID":
		return "valid", p, nil
	case "SAME_UPPER":
		return "same", p, nil
	case "SAME_LOWER":
		t, b := ops.SamePadding(h, k[0], s[0])
		l, r := ops.SamePadding(w, k[1], s[1])
		p = [4]int{b, t, r, l}
	default:
		return "", p, fmt.Errorf("auto_pad %q is not supported", ap)
	}
	for _, v := range p {
		if v < 0 || v > maxInputDim {
			return "", p, fmt.Errorf("bad padding %v", p)
		}
	}
	if p == [4]int{} {
		return "valid", p, nil
	}
	t, b := ops.SamePadding(h, k[0], s[0])
	l, r := ops.SamePadding(w, k[1], s[1])
	if p == [4]int{t, b, l, r} {
		return "same", p, nil
	}
	return "valid", p, nil
}

// zeroPad inserts a ZeroPadding2D before a node if its padding needs one.
func (im *importer) zeroPad(n *onnxpb.NodeProto, x *nn.Node, p [4]int) (*nn.Node, error) {
	if p == [4]int{} {
		return x, nil
	}
	l := nn.NewZeroPadding2D(p[0], p[1], p[2], p[3])
	if nm := im.layerName(n.GetName() + "_pad"); nm != "" {
		l.SetName(nm)
	}
	y := nn.Call(l, x)
	return y, y.Err()
}
