package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// transpose imports Transpose between NHWC and NCHW, and a channel
// shuffle's Transpose, without a layer (goqat holds each form the same
// way): perm (0, 3, 1, 2) of a rank-4 NHWC tensor marks it as an NCHW
// image, perm (0, 2, 3, 1) of an NCHW image marks it NHWC again, and perm
// (0, 2, 1, 3, 4) swaps the group axes of a channel-group view (N, g, C/g,
// H, W) (see reshape). Refused: any other perm, including a missing one
// (ONNX's default reversal).
func (im *importer) transpose(n *onnxpb.NodeProto) error {
	x, err := im.view(n, 0)
	if err != nil {
		return err
	}
	perm := ints(n, "perm")
	r := len(x.node.Shape())
	out := n.GetOutput()[0]
	switch {
	case x.lay == same && r == 3 && equalInts(perm, toNCHW):
		im.vals[out] = x.as(nchw)
	case x.lay == nchw && equalInts(perm, toNHWC):
		im.vals[out] = x.as(same)
	case x.lay == grouped && equalInts(perm, swapGroups):
		im.vals[out] = x.as(shuffled)
	case x.lay == shuffled && equalInts(perm, swapGroups):
		im.vals[out] = x.as(grouped)
	default:
		return fmt.Errorf("perm %v of shape %v: only NHWC <-> NCHW transposes of images and the swap %v of a channel shuffle's group axes are supported",
			perm, x.shape(), swapGroups)
	}
	return nil
}

// swapGroups is the perm of a channel shuffle's Transpose: (N, g, C/g, H,
// W) -> (N, C/g, g, H, W).
var swapGroups = []int64{0, 2, 1, 3, 4}

// flattenOp imports Flatten with axis 1 (keep the batch, join the rest) as
// flatten does. Refused: other axes.
func (im *importer) flattenOp(n *onnxpb.NodeProto) error {
	if a := intAttr(n, "axis", 1); a != 1 {
		return fmt.Errorf("axis %d: only axis 1 (keep the batch) is supported", a)
	}
	return im.flatten(n)
}

// flatten makes input 0 of a Flatten or Reshape (N, features): (N, C, 1,
// 1) and flat inputs need no layer, an NHWC tensor gets a goqat Flatten,
// and an NCHW image (N, C, H, W) a Flatten whose output, in goqat's (H, W,
// C) feature order, is marked chwFlat (so that only a Gemm or MatMul, which
// permutes its weight rows, may read it) unless H = W = 1.
func (im *importer) flatten(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	s := x.node.Shape()
	switch x.lay {
	case nc11:
		im.vals[n.GetOutput()[0]] = x.as(same)
		return nil
	case chwFlat:
		im.vals[n.GetOutput()[0]] = x
		return nil
	case same:
		if len(s) == 1 {
			im.vals[n.GetOutput()[0]] = x
			return nil
		}
		v, err := im.call(n, nn.NewFlatten(), same, x.node)
		if err == nil {
			v.nonNeg = x.nonNeg
		}
		return err
	}
	// NCHW image.
	v, err := im.call(n, nn.NewFlatten(), same, x.node)
	if err != nil {
		return err
	}
	v.nonNeg = x.nonNeg
	if s[0]*s[1] > 1 {
		v.lay, v.chw = chwFlat, [3]int{s[2], s[0], s[1]}
	}
	return nil
}

// reshape imports Reshape to a constant target shape whose first entry is
// the batch (any value: the batch stays dynamic); a 0 copies the input's
// dimension (unless allowzero is 1) and one -1 is inferred. Supported:
// flattening any input (as Flatten), any reshape of an NHWC or flat
// tensor (a goqat Reshape), the identity reshape of (N, C, 1, 1), and a
// channel shuffle's two Reshapes: an NCHW image (N, C, H, W) to its
// channel groups (N, g, C/g, H, W) (a view, no layer), and such a view,
// its group axes swapped by a Transpose, back to (N, C, H, W) (see
// shuffle). Refused: a shape that is not a constant, a target without the
// batch, zero or too large dimensions, a size mismatch, and other reshapes
// of NCHW images, channel-group views or flattened NCHW tensors.
func (im *importer) reshape(n *onnxpb.NodeProto) error {
	x, err := im.view(n, 0)
	if err != nil {
		return err
	}
	st, err := im.batchConstant(n, 1, 1)
	if err != nil || st == nil {
		return fmt.Errorf("shape: %v", err)
	}
	want, err := intData(st)
	if err != nil {
		return fmt.Errorf("shape: %w", err)
	}
	in := x.shape()
	size := in.Size()
	// Resolve the target's per-sample dimensions: the first entry is the
	// batch (0, -1 or any value: the batch is dynamic).
	if len(want) < 2 {
		return fmt.Errorf("target shape %v: the batch dimension must stay first", want)
	}
	allowZero := intAttr(n, "allowzero", 0) != 0
	var t tensor.Shape
	infer := -1
	for i, d := range want[1:] {
		switch {
		case d == 0 && !allowZero:
			if i >= len(in) {
				return fmt.Errorf("target shape %v copies a dimension the input %v lacks", want, in)
			}
			t = append(t, in[i])
		case d == -1 && infer < 0:
			infer = i
			t = append(t, 1)
		case d >= 1 && d <= maxInputSize:
			t = append(t, int(d))
		default:
			return fmt.Errorf("target shape %v is not supported", want)
		}
	}
	if infer >= 0 {
		if t.Size() == 0 || size%t.Size() != 0 {
			return fmt.Errorf("cannot reshape %v to %v", in, want)
		}
		t[infer] = size / t.Size()
	}
	if t.Size() != size {
		return fmt.Errorf("cannot reshape %v to %v (batch left out)", in, t)
	}
	out := n.GetOutput()[0]
	if x.lay == nchw || x.lay == grouped || x.lay == shuffled {
		hwc := x.node.Shape()
		image := tensor.Shape{hwc[2], hwc[0], hwc[1]} // (C, H, W)
		switch {
		case x.lay == nchw && len(t) == 4 && t[2] == image[1] && t[3] == image[2]:
			// (C, H, W) -> (g, C/g, H, W): the channel groups, a view.
			v := x.as(grouped)
			v.groups = t[0]
			im.vals[out] = v
			return nil
		case x.lay == grouped && t.Equal(image):
			im.vals[out] = x.as(nchw)
			return nil
		case x.lay == shuffled && t.Equal(image):
			return im.shuffle(n, x)
		case x.lay != nchw:
			return fmt.Errorf("reshape of the channel-group view %v to %v: only the reshape back to the image %v is supported", in, t, image)
		}
	}
	if len(t) == 1 {
		return im.flatten(n) // the same thing
	}
	switch x.lay {
	case same:
		if t.Equal(x.node.Shape()) {
			im.vals[out] = x
			return nil
		}
		v, err := im.call(n, nn.NewReshape(t...), same, x.node)
		if err == nil {
			v.nonNeg = x.nonNeg
		}
		return err
	case nc11:
		if t.Equal(tensor.Shape{in[0], 1, 1}) {
			im.vals[out] = x
			return nil
		}
	}
	return fmt.Errorf("reshape of %v to %v: only flattening an NCHW tensor, and any reshape of an NHWC or flat tensor, are supported", in, t)
}

// concat imports Concat of two or more computed tensors of one layout along
// the required axis (negative counts from the end) as a goqat
// Concatenate: an NCHW image's axis is mapped to NHWC (the channels, 1,
// become 3), and (N, C, 1, 1) inputs join only on the channels. The
// inputs of a channel Concat of images are remembered for a channel
// shuffle that may follow. Refused: a missing axis, the batch axis, mixed
// layouts, constant inputs, fewer than two inputs, flattened NCHW tensors
// and channel-group views.
func (im *importer) concat(n *onnxpb.NodeProto) error {
	var xs, parts []*nn.Node
	var lay layout
	nonNeg := true
	for i := range n.GetInput() {
		x, err := im.in(n, i)
		if err != nil {
			return err
		}
		if i == 0 {
			lay = x.lay
		} else if x.lay != lay {
			return errors.New("inputs of different layouts")
		}
		xs = append(xs, x.node)
		nonNeg = nonNeg && x.nonNeg
		if x.parts != nil {
			parts = append(parts, x.parts...)
		} else {
			parts = append(parts, x.node)
		}
	}
	if lay == chwFlat {
		return errors.New("input is a flattened NCHW tensor; only Gemm or MatMul may read it")
	}
	if len(xs) < 2 {
		return fmt.Errorf("%d inputs, want at least 2", len(xs))
	}
	r := int64(len(im.vals[n.GetInput()[0]].shape()) + 1)
	if attr(n, "axis") == nil {
		return errors.New("axis is required")
	}
	a := intAttr(n, "axis", 0)
	if a < 0 {
		a += r
	}
	if a <= 0 || a >= r {
		return fmt.Errorf("axis %d out of range for rank %d (the batch axis cannot be concatenated)", intAttr(n, "axis", 0), r)
	}
	axis := int(a) // Keras axis, batch = 0
	switch lay {
	case nchw:
		axis = []int{0, 3, 1, 2}[a]
	case nc11:
		if a != 1 {
			return fmt.Errorf("axis %d of (N, C, 1, 1) inputs: only the channels are supported", a)
		}
	}
	l := nn.NewConcatenate()
	l.Axis = axis
	v, err := im.call(n, l, lay, xs...)
	if err != nil {
		return err
	}
	v.nonNeg = nonNeg
	if lay == nchw && axis == 3 {
		v.parts = parts // a channel shuffle may need them
	}
	return nil
}

// pad imports Pad of an NCHW image with zeros on H and W as a goqat
// ZeroPadding2D; the pads are the attribute before opset 11, and constant
// input 1 (with an optional constant scalar value, input 2) from opset 11.
// Refused: modes other than constant, a non-zero value, padding of N or C,
// negative pads (cropping) and pads that are not constants.
func (im *importer) pad(n *onnxpb.NodeProto) error {
	x, _, err := im.image(n)
	if err != nil {
		return err
	}
	if m := string(attrString(n, "mode")); m != "" && m != "constant" {
		return fmt.Errorf("mode %q: only constant (zero) padding is supported", m)
	}
	var pads []int64
	value := floatAttr(n, "value", 0)
	if im.opset >= 11 {
		pt, err := im.constant(n, 1)
		if err != nil || pt == nil {
			return fmt.Errorf("pads: %v", err)
		}
		if pads, err = intData(pt); err != nil {
			return fmt.Errorf("pads: %w", err)
		}
		if value, err = im.scalar(n, 2, 0); err != nil {
			return err
		}
	} else {
		pads = ints(n, "pads")
	}
	if value != 0 {
		return fmt.Errorf("constant value %v: only zero padding is supported", value)
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return fmt.Errorf("pads %v: only padding of the height and width of an NCHW image is supported", pads)
	}
	for _, p := range pads {
		if p < 0 || p > maxInputDim {
			return fmt.Errorf("pads %v: only non-negative padding is supported", pads)
		}
	}
	v, err := im.call(n, nn.NewZeroPadding2D(int(pads[2]), int(pads[6]), int(pads[3]), int(pads[7])), nchw, x.node)
	if err == nil {
		v.nonNeg = x.nonNeg
	}
	return err
}
