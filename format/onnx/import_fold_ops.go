package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// The functions of the folders table (import_fold.go): each computes one
// op's output from constant inputs; a tensor whose size is computed is
// allocated through newCval, which bounds its element count first.

// foldShape computes Shape, with its start and end attributes (opset 15;
// negative from the end, clamped to the rank).
func foldShape(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	s := in[0]
	r := int64(len(s.i))
	clampAxis := func(a int64) int {
		if a < 0 {
			a += r
		}
		return int(min(max(a, 0), r))
	}
	lo, hi := clampAxis(intAttr(n, "start", 0)), clampAxis(intAttr(n, "end", r))
	out := &cval{typ: onnxpb.TensorProto_INT64, dims: []int{max(hi-lo, 0)}}
	for k := lo; k < hi; k++ {
		out.i = append(out.i, s.i[k])
		if s.dep(k) {
			out.setDep(len(out.i) - 1)
		}
	}
	return out, nil
}

// foldSize1 computes Size: the product of the input's dimensions, a
// scalar.
func foldSize1(_ *importer, _ *onnxpb.NodeProto, in []*cval) (*cval, error) {
	out := &cval{typ: onnxpb.TensorProto_INT64, dims: []int{}, i: []int64{1}}
	for k, d := range in[0].i {
		p, ok := mulInt(out.i[0], d)
		if !ok {
			return nil, fmt.Errorf("size of shape %v overflows int64", in[0].i)
		}
		out.i[0] = p
		if in[0].dep(k) {
			out.setDep(0)
		}
	}
	return out, nil
}

// Overflow-checked int64 arithmetic: ok is false on overflow.
func addInt(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

func subInt(a, b int64) (int64, bool) {
	d := a - b
	return d, (d < a) == (b > 0)
}

func mulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	return p, p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

// fitsType reports whether integer v fits typ (INT32 or INT64).
func fitsType(v int64, typ onnxpb.TensorProto_DataType) bool {
	return typ != onnxpb.TensorProto_INT32 || v == int64(int32(v))
}

// broadcastDims returns the numpy broadcast of dimensions a and b.
func broadcastDims(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for k := range r {
		da, db := 1, 1
		if j := k - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := k - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[k] = da
		case da == 1:
			out[k] = db
		default:
			return nil, fmt.Errorf("dimensions %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// broadcastIndex returns, for each element of the broadcast shape out,
// the index of the element of a tensor of dimensions d that it reads.
func broadcastIndex(d, out []int, n int) []int {
	idx := make([]int, n)
	r := len(out)
	strides := make([]int, r) // 0 along broadcast dimensions
	s := 1
	for k := len(d) - 1; k >= 0; k-- {
		if d[k] != 1 {
			strides[k+r-len(d)] = s
		}
		s *= d[k]
	}
	pos := make([]int, r)
	for e := range n {
		off := 0
		for k := range r {
			off += pos[k] * strides[k]
		}
		idx[e] = off
		for k := r - 1; k >= 0; k-- {
			if pos[k]++; pos[k] < out[k] {
				break
			}
			pos[k] = 0
		}
	}
	return idx
}

// foldArith computes Add, Sub, Mul and Div of two tensors of one type
// with numpy broadcasting: integers overflow-checked (Div truncates toward
// zero; a division by zero is an error), floats in float32.
func foldArith(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("%d inputs, want 2", len(in))
	}
	a, b := in[0], in[1]
	if a.typ != b.typ {
		return nil, fmt.Errorf("inputs of types %s and %s", a.typ, b.typ)
	}
	dims, err := broadcastDims(a.dims, b.dims)
	if err != nil {
		return nil, err
	}
	out, err := newCval(a.typ, dims)
	if err != nil {
		return nil, err
	}
	ia, ib := broadcastIndex(a.dims, dims, out.size()), broadcastIndex(b.dims, dims, out.size())
	op := n.GetOpType()
	for k := range out.size() {
		j, l := ia[k], ib[k]
		if a.dep(j) || b.dep(l) {
			out.setDep(k)
		}
		if !out.isInt() {
			x, y := a.f[j], b.f[l]
			switch op {
			case "Add":
				out.f[k] = x + y
			case "Sub":
				out.f[k] = x - y
			case "Mul":
				out.f[k] = x * y
			default:
				out.f[k] = x / y
			}
			continue
		}
		x, y := a.i[j], b.i[l]
		var v int64
		ok := true
		switch op {
		case "Add":
			v, ok = addInt(x, y)
		case "Sub":
			v, ok = subInt(x, y)
		case "Mul":
			v, ok = mulInt(x, y)
		default:
			if y == 0 {
				return nil, fmt.Errorf("integer division of %d by zero", x)
			}
			ok = !(x == math.MinInt64 && y == -1)
			v = x / y // truncates toward zero
		}
		if !ok || !fitsType(v, out.typ) {
			return nil, fmt.Errorf("%s of %d and %d overflows %s", op, x, y, out.typ)
		}
		out.i[k] = v
	}
	return out, nil
}

// foldNeg computes Neg.
func foldNeg(_ *importer, _ *onnxpb.NodeProto, in []*cval) (*cval, error) {
	x := in[0]
	out, err := newCval(x.typ, x.dims)
	if err != nil {
		return nil, err
	}
	for k := range out.size() {
		out.copyVal(k, x, k)
		if !out.isInt() {
			out.f[k] = -x.f[k]
			continue
		}
		if x.i[k] == math.MinInt64 || !fitsType(-x.i[k], x.typ) {
			return nil, fmt.Errorf("Neg of %d overflows %s", x.i[k], x.typ)
		}
		out.i[k] = -x.i[k]
	}
	return out, nil
}

// foldCast computes Cast between INT64, INT32 and FLOAT: integers to
// float32 rounded to nearest, floats to integers truncated toward zero
// (NaN, infinities and values out of the target's range are errors, as
// are integers that do not fit INT32).
func foldCast(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	x := in[0]
	to := onnxpb.TensorProto_DataType(intAttr(n, "to", 0))
	switch to {
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32, onnxpb.TensorProto_FLOAT:
	default:
		return nil, fmt.Errorf("cast to %s: folding casts to INT64, INT32 and FLOAT", to)
	}
	out, err := newCval(to, x.dims)
	if err != nil {
		return nil, err
	}
	out.batch = x.batch
	for k := range out.size() {
		switch {
		case x.isInt() && out.isInt():
			if !fitsType(x.i[k], to) {
				return nil, fmt.Errorf("cast of %d to %s overflows", x.i[k], to)
			}
			out.i[k] = x.i[k]
		case x.isInt():
			out.f[k] = float32(x.i[k])
		case out.isInt():
			v := math.Trunc(float64(x.f[k]))
			if !(v >= -(1<<63) && v < 1<<63) || !fitsType(int64(v), to) {
				return nil, fmt.Errorf("cast of %v to %s overflows", x.f[k], to)
			}
			out.i[k] = int64(v)
		default:
			out.f[k] = x.f[k]
		}
	}
	return out, nil
}

// axisOf resolves an axis attribute or value (negative from the end) for
// rank r.
func axisOf(a int64, r int) (int, error) {
	if a < -int64(r) || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

// blocks returns the product of dims before axis, dims[axis] and the
// product after it.
func blocks(dims []int, axis int) (outer, d, inner int) {
	outer, inner = 1, 1
	for _, v := range dims[:axis] {
		outer *= v
	}
	for _, v := range dims[axis+1:] {
		inner *= v
	}
	return outer, dims[axis], inner
}

// foldConcat computes Concat of tensors of one type and rank along the
// required axis.
func foldConcat(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	if attr(n, "axis") == nil {
		return nil, errors.New("axis is required")
	}
	x := in[0]
	axis, err := axisOf(intAttr(n, "axis", 0), len(x.dims))
	if err != nil {
		return nil, err
	}
	dims := slices.Clone(x.dims)
	dims[axis] = 0
	for _, y := range in {
		if y == nil || y.typ != x.typ || len(y.dims) != len(x.dims) {
			return nil, errors.New("inputs of different types or ranks")
		}
		for k := range dims {
			if k != axis && y.dims[k] != x.dims[k] {
				return nil, fmt.Errorf("inputs of dimensions %v and %v do not concatenate along axis %d", x.dims, y.dims, axis)
			}
		}
		dims[axis] += y.dims[axis]
		if dims[axis] > maxFoldElements {
			return nil, fmt.Errorf("concatenation of more than %d values", maxFoldElements)
		}
	}
	out, err := newCval(x.typ, dims)
	if err != nil {
		return nil, err
	}
	outer, _, inner := blocks(dims, axis)
	k := 0
	for o := range outer {
		for _, y := range in {
			w := y.dims[axis] * inner
			for j := o * w; j < (o+1)*w; j++ {
				out.copyVal(k, y, j)
				k++
			}
		}
	}
	return out, nil
}

// indexValues returns an input of indices or axes, which must not depend
// on the batch size.
func indexValues(c *cval, what string) ([]int64, error) {
	if c == nil || !c.isInt() {
		return nil, fmt.Errorf("%s must be INT64 or INT32", what)
	}
	if c.anyDep() {
		return nil, fmt.Errorf("%s %v depend on the batch size, which goqat keeps dynamic", what, c.i)
	}
	return c.i, nil
}

// foldGather computes Gather along axis (default 0), negative indices
// counting from the end of the axis.
func foldGather(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%d inputs, want 2", len(in))
	}
	x := in[0]
	if len(x.dims) == 0 {
		return nil, errors.New("data is a scalar")
	}
	idx, err := indexValues(in[1], "indices")
	if err != nil {
		return nil, err
	}
	axis, err := axisOf(intAttr(n, "axis", 0), len(x.dims))
	if err != nil {
		return nil, err
	}
	outer, d, inner := blocks(x.dims, axis)
	dims := append(append(slices.Clone(x.dims[:axis]), in[1].dims...), x.dims[axis+1:]...)
	out, err := newCval(x.typ, dims)
	if err != nil {
		return nil, err
	}
	k := 0
	for o := range outer {
		for _, v := range idx {
			if v < -int64(d) || v >= int64(d) {
				return nil, fmt.Errorf("index %d out of range for dimension %d", v, d)
			}
			if v < 0 {
				v += int64(d)
			}
			for j := range inner {
				out.copyVal(k, x, (o*d+int(v))*inner+j)
				k++
			}
		}
	}
	return out, nil
}

// axesOf returns the axes of Unsqueeze or Squeeze: constant input 1 from
// opset 13, the attribute before; nil if absent.
func (im *importer) axesOf(n *onnxpb.NodeProto, in []*cval) ([]int64, error) {
	if im.opset < 13 {
		return ints(n, "axes"), nil
	}
	if len(in) < 2 || in[1] == nil {
		return nil, nil
	}
	return indexValues(in[1], "axes")
}

// withDims returns x with other dimensions of the same size.
func withDims(x *cval, dims []int) *cval {
	c := *x
	c.dims = dims
	return &c
}

// foldUnsqueeze computes Unsqueeze: a dimension of 1 at each of the axes
// (of the output's rank, negative from the end, no repeats).
func foldUnsqueeze(im *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	axes, err := im.axesOf(n, in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	r := len(x.dims) + len(axes)
	if len(axes) == 0 || r > 64 {
		return nil, fmt.Errorf("axes %v", axes)
	}
	one := make([]bool, r)
	for _, a := range axes {
		k, err := axisOf(a, r)
		if err != nil {
			return nil, err
		}
		if one[k] {
			return nil, fmt.Errorf("axis %d repeated", a)
		}
		one[k] = true
	}
	dims := make([]int, 0, r)
	j := 0
	for k := range r {
		if one[k] {
			dims = append(dims, 1)
		} else {
			dims = append(dims, x.dims[j])
			j++
		}
	}
	return withDims(x, dims), nil
}

// foldSqueeze computes Squeeze: the axes (which must have dimension 1)
// removed, or every dimension of 1 when no axes are given.
func foldSqueeze(im *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	axes, err := im.axesOf(n, in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	drop := make([]bool, len(x.dims))
	for _, a := range axes {
		k, err := axisOf(a, len(x.dims))
		if err != nil {
			return nil, err
		}
		if x.dims[k] != 1 {
			return nil, fmt.Errorf("axis %d of dimensions %v is not 1", a, x.dims)
		}
		drop[k] = true
	}
	var dims []int
	for k, d := range x.dims {
		if !drop[k] && (axes != nil || d != 1) {
			dims = append(dims, d)
		}
	}
	return withDims(x, append([]int{}, dims...)), nil
}

// foldReshape computes Reshape of a constant: a 0 in the target copies
// the input's dimension (unless allowzero is 1), one -1 is inferred.
func foldReshape(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%d inputs, want 2", len(in))
	}
	x := in[0]
	want, err := indexValues(in[1], "shape")
	if err != nil {
		return nil, err
	}
	allowZero := intAttr(n, "allowzero", 0) != 0
	dims := make([]int, len(want))
	infer, known := -1, 1
	for k, d := range want {
		switch {
		case d == 0 && !allowZero:
			if k >= len(x.dims) {
				return nil, fmt.Errorf("shape %v copies a dimension the input %v lacks", want, x.dims)
			}
			dims[k] = x.dims[k]
		case d == -1 && infer < 0:
			infer = k
			continue
		case d >= 0 && d <= maxFoldElements:
			dims[k] = int(d)
		default:
			return nil, fmt.Errorf("shape %v is not supported", want)
		}
		if dims[k] > 0 && known > maxFoldElements/dims[k] {
			return nil, fmt.Errorf("shape %v is too large", want)
		}
		known *= dims[k]
	}
	if infer >= 0 {
		if known == 0 || x.size()%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", x.dims, want)
		}
		dims[infer] = x.size() / known
		known *= dims[infer]
	}
	if known != x.size() {
		return nil, fmt.Errorf("cannot reshape %v to %v", x.dims, want)
	}
	return withDims(x, dims), nil
}

// sliceRange resolves one axis of an ONNX Slice of dimension d: start and
// end (negative from the end) clamped as the operator does for the sign
// of step, and the number of positions kept.
func sliceRange(start, end, step int64, d int) (int, int, int) {
	dd := int64(d)
	if start < 0 {
		start += dd
	}
	if end < 0 {
		end += dd
	}
	if step > 0 {
		start, end = min(max(start, 0), dd), min(max(end, 0), dd)
		if end <= start {
			return int(start), int(end), 0
		}
		return int(start), int(end), int((end-start-1)/step + 1)
	}
	start, end = min(max(start, 0), dd-1), min(max(end, -1), dd-1)
	if start <= end {
		return int(start), int(end), 0
	}
	if step == math.MinInt64 {
		return int(start), int(end), 1
	}
	return int(start), int(end), int((start-end-1)/-step + 1)
}

// sliceArgs returns a Slice's starts, ends, axes and steps: inputs 1 to 4
// (opset 10 on), or the attributes (before; no steps). Axes default to
// 0, 1, ...; steps to 1.
func (im *importer) sliceArgs(n *onnxpb.NodeProto, in []*cval) (starts, ends, axes, steps []int64, err error) {
	if im.opset < 10 {
		starts, ends, axes = ints(n, "starts"), ints(n, "ends"), ints(n, "axes")
	} else {
		arg := func(i int, what string) ([]int64, error) {
			if i >= len(in) || in[i] == nil {
				return nil, nil
			}
			return indexValues(in[i], what)
		}
		if starts, err = arg(1, "starts"); err != nil {
			return
		}
		if ends, err = arg(2, "ends"); err != nil {
			return
		}
		if axes, err = arg(3, "axes"); err != nil {
			return
		}
		if steps, err = arg(4, "steps"); err != nil {
			return
		}
	}
	if len(starts) == 0 || len(ends) != len(starts) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return nil, nil, nil, nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v: want one value of each per axis", starts, ends, axes, steps)
	}
	if axes == nil {
		for k := range starts {
			axes = append(axes, int64(k))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for k := range steps {
			steps[k] = 1
		}
	}
	return starts, ends, axes, steps, nil
}

// foldSlice computes Slice of a constant with ONNX's clamping, negative
// steps included.
func foldSlice(im *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	x := in[0]
	starts, ends, axes, steps, err := im.sliceArgs(n, in)
	if err != nil {
		return nil, err
	}
	r := len(x.dims)
	first, step := make([]int, r), make([]int, r)
	dims := slices.Clone(x.dims)
	seen := make([]bool, r)
	for k := range r {
		step[k] = 1
	}
	for k, a := range axes {
		ax, err := axisOf(a, r)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated", a)
		}
		seen[ax] = true
		if steps[k] == 0 {
			return nil, errors.New("step 0")
		}
		first[ax], _, dims[ax] = sliceRange(starts[k], ends[k], steps[k], x.dims[ax])
		step[ax] = int(max(min(steps[k], math.MaxInt32), math.MinInt32))
	}
	out, err := newCval(x.typ, dims)
	if err != nil {
		return nil, err
	}
	pos := make([]int, r)
	for k := range out.size() {
		src := 0
		for a := range r {
			src = src*x.dims[a] + first[a] + pos[a]*step[a]
		}
		out.copyVal(k, x, src)
		for a := r - 1; a >= 0; a-- {
			if pos[a]++; pos[a] < dims[a] {
				break
			}
			pos[a] = 0
		}
	}
	return out, nil
}

// foldConstantOfShape computes ConstantOfShape: a tensor of the given
// dimensions filled with the value attribute (one INT64, INT32 or FLOAT
// value; default float 0).
func foldConstantOfShape(_ *importer, n *onnxpb.NodeProto, in []*cval) (*cval, error) {
	want, err := indexValues(in[0], "shape")
	if err != nil {
		return nil, err
	}
	dims := make([]int, len(want))
	for k, d := range want {
		if d < 0 || d > maxFoldElements {
			return nil, fmt.Errorf("shape %v is not supported", want)
		}
		dims[k] = int(d)
	}
	val := &cval{typ: onnxpb.TensorProto_FLOAT, f: []float32{0}}
	if a := attr(n, "value"); a != nil && a.GetT() != nil {
		if val, err = tensorCval(a.GetT()); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		if val.size() != 1 {
			return nil, fmt.Errorf("value has %d elements, want 1", val.size())
		}
	}
	out, err := newCval(val.typ, dims)
	if err != nil {
		return nil, err
	}
	for k := range out.size() {
		out.copyVal(k, val, 0)
	}
	return out, nil
}

// foldRange computes Range of integers: start, start+delta, ... before
// limit.
func foldRange(_ *importer, _ *onnxpb.NodeProto, in []*cval) (*cval, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%d inputs, want 3", len(in))
	}
	var v [3]int64
	for k, c := range in {
		if c == nil || !c.isInt() || c.size() != 1 || c.typ != in[0].typ {
			return nil, errors.New("start, limit and delta must be integer scalars of one type (folding computes integer Ranges only)")
		}
		if c.anyDep() {
			return nil, errors.New("the range depends on the batch size, which goqat keeps dynamic")
		}
		v[k] = c.i[0]
	}
	start, limit, delta := v[0], v[1], v[2]
	if delta == 0 {
		return nil, errors.New("delta 0")
	}
	// Count the values without overflow: at most maxFoldElements.
	count := 0
	for x := start; (delta > 0 && x < limit) || (delta < 0 && x > limit); {
		if count == maxFoldElements {
			return nil, fmt.Errorf("a range of more than %d values", maxFoldElements)
		}
		count++
		next, ok := addInt(x, delta)
		if !ok {
			break // the next value passes the int64 range, so the limit
		}
		x = next
	}
	out, err := newCval(in[0].typ, []int{count})
	if err != nil {
		return nil, err
	}
	for k := range count {
		out.i[k] = start + int64(k)*delta // within [start, limit) by the count
	}
	return out, nil
}
