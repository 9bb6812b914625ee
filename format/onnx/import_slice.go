package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// slice imports Slice of a computed tensor as goqat Slice layers, one per
// axis whose range is not the whole axis (none: an alias of the input).
// starts, ends, axes and steps are constant inputs from opset 10 (folded
// ones included: PyTorch computes torch.chunk's bounds from the input's
// Shape, see import_fold.go) and attributes before; starts and ends count
// from the end when negative and are clamped as ONNX does. An NCHW
// image's axes are mapped to NHWC. Refused: negative or zero steps (goqat
// does not reverse), an empty range, a range of the batch axis other than
// the whole (0 to at least 2^31-1: goqat's batch is dynamic), a
// flattened NCHW tensor and channel-group views.
func (im *importer) slice(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	in := []*cval{nil}
	for i := 1; i < len(n.GetInput()) && i <= 4; i++ {
		t, err := im.constant(n, i)
		if err != nil || t == nil {
			in = append(in, nil)
			if err != nil {
				return err
			}
			continue
		}
		c, err := tensorCval(t)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		in = append(in, c)
	}
	starts, ends, axes, steps, err := im.sliceArgs(n, in)
	if err != nil {
		return err
	}
	shape := x.shape() // batch left out
	r := len(shape) + 1
	type cut struct{ axis, begin, end, step int }
	var cuts []cut
	seen := make([]bool, r)
	for k, a := range axes {
		ax, err := axisOf(a, r)
		if err != nil {
			return err
		}
		if seen[ax] {
			return fmt.Errorf("axis %d repeated", a)
		}
		seen[ax] = true
		step := steps[k]
		if step <= 0 {
			return fmt.Errorf("step %d of axis %d: only positive steps are supported", step, a)
		}
		if ax == 0 {
			if starts[k] != 0 || ends[k] < math.MaxInt32 || step != 1 {
				return fmt.Errorf("range %d:%d step %d of the batch axis: goqat's batch is dynamic, so only the whole batch is supported", starts[k], ends[k], step)
			}
			continue
		}
		d := shape[ax-1]
		b, e, kept := sliceRange(starts[k], ends[k], step, d)
		if kept == 0 {
			return fmt.Errorf("range %d:%d step %d of axis %d (dimension %d) is empty", starts[k], ends[k], step, a, d)
		}
		if b == 0 && kept == d {
			continue // the whole axis
		}
		if kept == 1 {
			e, step = b+1, 1
		}
		ka, err := kerasAxis(x, ax)
		if err != nil {
			return err
		}
		cuts = append(cuts, cut{ka, b, e, int(step)}) // step <= d here
	}
	if len(cuts) == 0 {
		im.vals[n.GetOutput()[0]] = x
		return nil
	}
	node := x.node
	for i, c := range cuts {
		l := &nn.Slice{Axis: c.axis, Begin: c.begin, End: c.end, Step: c.step}
		if i < len(cuts)-1 {
			if node, err = im.apply(n, fmt.Sprintf("_axis%d", c.axis), l, node); err != nil {
				return err
			}
			continue
		}
		v, err := im.call(n, l, x.lay, node)
		if err != nil {
			return err
		}
		v.nonNeg = x.nonNeg
	}
	return nil
}

// kerasAxis returns the goqat axis (batch = 0) that holds ONNX axis ax
// (>= 1) of value x, or an error for a layout whose axis goqat does not
// hold apart.
func kerasAxis(x *value, ax int) (int, error) {
	switch x.lay {
	case same:
		return ax, nil
	case nchw:
		return []int{0, 3, 1, 2}[ax], nil
	case nc11:
		if ax == 1 {
			return 1, nil
		}
		return 0, fmt.Errorf("axis %d of an (N, C, 1, 1) tensor: goqat holds it as (N, C)", ax)
	case chwFlat:
		return 0, errors.New("input is a flattened NCHW tensor; only Gemm or MatMul may read it")
	}
	return 0, fmt.Errorf("axis %d of a channel-group view %v", ax, x.shape())
}

// split imports Split of a computed tensor along axis (default 0) into one
// goqat Slice layer per output that is read: the part sizes are constant
// input 'split' from opset 13 (the attribute before), or, without them,
// equal parts (the axis divisible by the number of outputs; from opset
// 18, num_outputs parts of ceil(dim/num_outputs) with a smaller last
// one). A part that is the whole axis is an alias of the input. Refused:
// the batch axis, parts of size 0 or not summing to the axis, and the
// layouts slice refuses.
func (im *importer) split(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	shape := x.shape()
	r := len(shape) + 1
	ax, err := axisOf(intAttr(n, "axis", 0), r)
	if err != nil {
		return err
	}
	if ax == 0 {
		return errors.New("split of the batch axis: goqat's batch is dynamic")
	}
	d := shape[ax-1]
	outs := n.GetOutput()
	var sizes []int64
	if im.opset >= 13 {
		t, err := im.constant(n, 1)
		if err != nil {
			return fmt.Errorf("split: %w", err)
		}
		if t != nil {
			if sizes, err = intData(t); err != nil {
				return fmt.Errorf("split: %w", err)
			}
		}
	} else {
		sizes = ints(n, "split")
	}
	if sizes == nil {
		k := int64(len(outs))
		if a := attr(n, "num_outputs"); a != nil {
			if k = a.GetI(); k != int64(len(outs)) {
				return fmt.Errorf("num_outputs %d, but %d outputs", k, len(outs))
			}
			part := (int64(d) + k - 1) / k
			for range k - 1 {
				sizes = append(sizes, part)
			}
			sizes = append(sizes, int64(d)-part*(k-1))
		} else {
			if int64(d)%k != 0 {
				return fmt.Errorf("axis %d of dimension %d does not split into %d equal parts", ax, d, k)
			}
			for range k {
				sizes = append(sizes, int64(d)/k)
			}
		}
	}
	if len(sizes) != len(outs) {
		return fmt.Errorf("%d part sizes %v for %d outputs", len(sizes), sizes, len(outs))
	}
	sum := int64(0)
	for _, s := range sizes {
		if s < 1 || s > int64(d) {
			return fmt.Errorf("part sizes %v of axis %d (dimension %d): every part must hold 1 to %d positions", sizes, ax, d, d)
		}
		sum += s
	}
	if sum != int64(d) {
		return fmt.Errorf("part sizes %v sum to %d, the axis has %d", sizes, sum, d)
	}
	ka, err := kerasAxis(x, ax)
	if err != nil && len(sizes) > 1 {
		return err
	}
	begin := 0
	for i, s := range sizes {
		out := outs[i]
		lo := begin
		begin += int(s)
		if out == "" || len(im.consumers[out]) == 0 && !im.graphOut[out] {
			continue // not read
		}
		if int(s) == d {
			im.vals[out] = x
			continue
		}
		l := &nn.Slice{Axis: ka, Begin: lo, End: begin, Step: 1}
		l.SetName(im.layerName(out))
		y := nn.Call(l, x.node)
		if y.Err() != nil {
			return y.Err()
		}
		im.vals[out] = &value{node: y, lay: x.lay, nonNeg: x.nonNeg}
	}
	return nil
}
