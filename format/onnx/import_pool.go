package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// pool imports MaxPool and AveragePool of an NCHW image as a goqat
// MaxPooling2D or AveragePooling2D: a 2-D window (kernel_shape required,
// strides, dilations 1) with auto_pad or explicit pads, and ceil_mode (the
// last, partial window of each axis becomes extra padding at the bottom
// or right). Padding that equals goqat's 'same' (padded cells never win a
// max, and an average counts only the cells inside the image) becomes
// 'same'; other padding becomes a ZeroPadding2D before a 'valid' pool:
// for MaxPool only when the input is known to be non-negative (a ReLU's
// output, ...: value.nonNeg), where a zero never wins over the image's
// values as ONNX's -inf padding never does; for AveragePool only with
// count_include_pad 1 (the zeros are counted, as ONNX counts the pads)
// and no ceil_mode extension (which ONNX does not count). Refused:
// storage_order 1, MaxPool's Indices output, pads not smaller than the
// window, a window larger than the padded image, a ceil_mode window that
// would start in the padding, and the padding cases above that goqat
// cannot reproduce.
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
	isMax := n.GetOpType() == "MaxPool"
	if isMax && len(n.GetOutput()) > 1 && n.GetOutput()[1] != "" {
		return errors.New("the Indices output is not supported")
	}
	p, fromAttr, err := pads(n, s[0], s[1], k, st)
	if err != nil {
		return err
	}
	// With auto_pad the output size ignores ceil_mode.
	ceil := fromAttr && intAttr(n, "ceil_mode", 0) != 0
	full := p // with the ceil_mode extension
	for d := range 2 {
		if p[2*d] >= k[d] || p[2*d+1] >= k[d] {
			return fmt.Errorf("pads %v are not smaller than the window %v: a window could lie in the padding only", ints(n, "pads"), k)
		}
		extra, err := ceilExtra(s[d], k[d], st[d], p[2*d], p[2*d+1], ceil)
		if err != nil {
			return err
		}
		full[2*d+1] += extra
	}
	includePad := intAttr(n, "count_include_pad", 0) != 0
	same := full == samePads(s, k, st, "same")
	mode, zero := "valid", [4]int{}
	switch {
	case full == [4]int{}:
	case same && (isMax || !includePad):
		mode = "same"
	case isMax && !x.nonNeg:
		return fmt.Errorf("padding %v (top, bottom, left, right, ceil_mode included) of an input not known to be non-negative: "+
			"goqat's MaxPooling2D pads only as 'same' (%v), and a ZeroPadding2D would pad with 0 where ONNX pads with -inf "+
			"(supported after Relu, Clip(0, x), Sigmoid, HardSigmoid, Softmax and what keeps their sign)", full, samePads(s, k, st, "same"))
	case isMax:
		zero = full
	case !includePad:
		return fmt.Errorf("padding %v (top, bottom, left, right, ceil_mode included) with count_include_pad 0: "+
			"goqat's AveragePooling2D excludes padding only as 'same' (%v)", full, samePads(s, k, st, "same"))
	case full != p:
		return errors.New("count_include_pad 1 with a ceil_mode window past the pads: ONNX does not count those cells and goqat cannot exclude them")
	default:
		zero = full
	}
	xn, err := im.zeroPad(n, x.node, zero)
	if err != nil {
		return err
	}
	var l nn.Layer
	if isMax {
		mp := nn.NewMaxPooling2D(k[0], k[1])
		mp.Strides, mp.Padding = st, mode
		l = mp
	} else {
		ap := nn.NewAveragePooling2D(k[0], k[1])
		ap.Strides, ap.Padding = st, mode
		l = ap
	}
	v, err := im.call(n, l, nchw, xn)
	if err == nil {
		v.nonNeg = x.nonNeg
	}
	return err
}

// ceilExtra returns the padding ceil_mode adds after one axis of in cells
// padded with before and after for a window k with stride s: ONNX's output
// size is ceil((in + before + after - k) / s) + 1 instead of the floor, so
// the last window may extend past the padding. Refused: a window larger
// than the padded axis, and a last window that would start in the padding
// after the image (PyTorch leaves it out, the ONNX formula keeps it).
func ceilExtra(in, k, s, before, after int, ceil bool) (int, error) {
	span := in + before + after - k
	if span < 0 {
		return 0, fmt.Errorf("window %d larger than the padded axis of %d", k, in+before+after)
	}
	if !ceil || span%s == 0 {
		return 0, nil
	}
	last := (span/s + 1) * s // start of ceil_mode's last window
	if last >= in+before {
		return 0, errors.New("ceil_mode 1 with a last window that starts in the padding is not supported")
	}
	return last + k - (in + before + after), nil
}

// globalPool imports GlobalAveragePool and GlobalMaxPool: the mean or the
// maximum over H and W of an NCHW image, (N, C, H, W) -> (N, C, 1, 1), as
// a goqat GlobalAveragePooling2D or GlobalMaxPooling2D. Refused: any other
// input.
func (im *importer) globalPool(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if x.lay != nchw {
		return errors.New("input is not an NCHW image")
	}
	var l nn.Layer = nn.NewGlobalAveragePooling2D()
	if n.GetOpType() == "GlobalMaxPool" {
		l = nn.NewGlobalMaxPooling2D()
	}
	v, err := im.call(n, l, nc11, x.node)
	if err == nil {
		v.nonNeg = x.nonNeg
	}
	return err
}

// reduceMean imports ReduceMean over the two spatial axes of an NCHW image
// (axes 2 and 3, negative ones counted from the end, in any order) as a
// goqat GlobalAveragePooling2D: keepdims 1 (the default) gives (N, C, 1,
// 1), keepdims 0 gives (N, C). The axes are an attribute before opset 18
// and an optional constant input from opset 18. Refused: other inputs,
// other or missing axes (a missing axes reduces all of them).
func (im *importer) reduceMean(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	axes := ints(n, "axes")
	if im.opset >= 18 {
		t, err := im.constant(n, 1)
		if err != nil {
			return err
		}
		if t != nil {
			if axes, err = intData(t); err != nil {
				return fmt.Errorf("axes: %w", err)
			}
		}
	}
	seen := [4]bool{}
	for _, a := range axes {
		if a < 0 {
			a += 4
		}
		if a < 2 || a > 3 || seen[a] {
			seen[0] = true // not the spatial axes
			break
		}
		seen[a] = true
	}
	if x.lay != nchw || len(axes) != 2 || seen[0] {
		return fmt.Errorf("mean over axes %v of shape %v: only the mean over H and W (axes 2 and 3) of an NCHW image is supported", axes, x.shape())
	}
	lay := nc11
	if intAttr(n, "keepdims", 1) == 0 {
		lay = same
	}
	v, err := im.call(n, nn.NewGlobalAveragePooling2D(), lay, x.node)
	if err == nil {
		v.nonNeg = x.nonNeg
	}
	return err
}
