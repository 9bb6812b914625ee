package onnx

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// This file is a small, slow ONNX evaluator written from the operator
// specifications (opset 13), for tests: it runs the graphs that
// ExportFloat and ExportInteger write, so that their semantics are checked
// against goqat's engines in `go test` without ONNX Runtime. Values are
// float64 with an element type tag; float tensors are rounded to float32
// after every op, as a float32 runtime stores them.

// rtensor is a tensor of the evaluator.
type rtensor struct {
	dt    onnxpb.TensorProto_DataType
	shape []int
	v     []float64
}

func size(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// f32 rounds the values of a float tensor to float32.
func (t *rtensor) f32() *rtensor {
	if t.dt == onnxpb.TensorProto_FLOAT {
		for i, x := range t.v {
			t.v[i] = float64(float32(x))
		}
	}
	return t
}

// fromProto converts an initializer.
func fromProto(p *onnxpb.TensorProto) (*rtensor, error) {
	n, err := checkTensor(p)
	if err != nil {
		return nil, err
	}
	dt := onnxpb.TensorProto_DataType(p.GetDataType())
	t := &rtensor{dt: dt, shape: dims(p), v: make([]float64, n)}
	raw := p.GetRawData()
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		f, err := floatData(p)
		if err != nil {
			return nil, err
		}
		for i, x := range f {
			t.v[i] = float64(x)
		}
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_INT32:
		d, err := intData(p)
		if err != nil {
			return nil, err
		}
		for i, x := range d {
			t.v[i] = float64(x)
		}
	case onnxpb.TensorProto_INT8:
		for i := range t.v {
			t.v[i] = float64(int8(raw[i]))
		}
	case onnxpb.TensorProto_UINT8:
		for i := range t.v {
			t.v[i] = float64(raw[i])
		}
	default:
		return nil, fmt.Errorf("type %s", dt)
	}
	return t, nil
}

// evalGraph runs a graph on named inputs and returns its outputs.
func evalGraph(g *onnxpb.GraphProto, inputs map[string]*rtensor) ([]*rtensor, error) {
	return evalGraphWith(g, inputs, nil)
}

// evalGraphWith is evalGraph with a hook: after, if not nil, sees every
// node's (first) output and returns the value that later nodes read
// instead, or an error that stops the evaluation.
func evalGraphWith(g *onnxpb.GraphProto, inputs map[string]*rtensor, after func(*onnxpb.NodeProto, *rtensor) (*rtensor, error)) ([]*rtensor, error) {
	env := map[string]*rtensor{}
	for k, v := range inputs {
		env[k] = v
	}
	for _, p := range g.GetInitializer() {
		t, err := fromProto(p)
		if err != nil {
			return nil, err
		}
		env[p.GetName()] = t
	}
	for _, n := range g.GetNode() {
		var in []*rtensor
		for _, name := range n.GetInput() {
			if name == "" {
				in = append(in, nil)
				continue
			}
			t, ok := env[name]
			if !ok {
				return nil, fmt.Errorf("node %s: input %q undefined", n.GetName(), name)
			}
			in = append(in, t)
		}
		if n.GetOpType() == "Constant" {
			c, err := fromProto(attr(n, "value").GetT())
			if err != nil {
				return nil, fmt.Errorf("node %s (%s): %w", n.GetName(), n.GetOpType(), err)
			}
			env[n.GetOutput()[0]] = c
			continue
		}
		if n.GetOpType() == "Split" {
			outs, err := evalSplit(n, in)
			if err != nil {
				return nil, fmt.Errorf("node %s (%s): %w", n.GetName(), n.GetOpType(), err)
			}
			for k, o := range outs {
				env[n.GetOutput()[k]] = o
			}
			continue
		}
		out, err := evalNode(n, in)
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.GetName(), n.GetOpType(), err)
		}
		out = out.f32()
		if after != nil {
			if out, err = after(n, out); err != nil {
				return nil, fmt.Errorf("node %s (%s): %w", n.GetName(), n.GetOpType(), err)
			}
		}
		env[n.GetOutput()[0]] = out
	}
	var outs []*rtensor
	for _, o := range g.GetOutput() {
		outs = append(outs, env[o.GetName()])
	}
	return outs, nil
}

func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// evalSplit computes Split (opset 13): the part sizes of input 1, or equal
// parts.
func evalSplit(n *onnxpb.NodeProto, in []*rtensor) ([]*rtensor, error) {
	x := in[0]
	axis := int(intAttr(n, "axis", 0))
	if axis < 0 {
		axis += len(x.shape)
	}
	k := len(n.GetOutput())
	var sizes []int
	if len(in) > 1 && in[1] != nil {
		for _, v := range in[1].v {
			sizes = append(sizes, int(v))
		}
	} else {
		for range k {
			sizes = append(sizes, x.shape[axis]/k)
		}
	}
	outer, inner := size(x.shape[:axis]), size(x.shape[axis+1:])
	var outs []*rtensor
	begin := 0
	for _, sz := range sizes {
		s := append([]int(nil), x.shape...)
		s[axis] = sz
		o := &rtensor{dt: x.dt, shape: s}
		for r := range outer {
			o.v = append(o.v, x.v[(r*x.shape[axis]+begin)*inner:(r*x.shape[axis]+begin+sz)*inner]...)
		}
		outs = append(outs, o)
		begin += sz
	}
	return outs, nil
}

// evalNode computes one node.
func evalNode(n *onnxpb.NodeProto, in []*rtensor) (*rtensor, error) {
	x := in[0]
	switch n.GetOpType() {
	case "Identity":
		return &rtensor{dt: x.dt, shape: x.shape, v: append([]float64(nil), x.v...)}, nil
	case "Cast": // to float (integers up to 2^24 are exact) or to INT64 (truncating)
		switch to := onnxpb.TensorProto_DataType(intAttr(n, "to", 0)); to {
		case onnxpb.TensorProto_FLOAT:
			return &rtensor{dt: to, shape: x.shape, v: append([]float64(nil), x.v...)}, nil
		case onnxpb.TensorProto_INT64:
			out := &rtensor{dt: to, shape: x.shape, v: make([]float64, len(x.v))}
			for i, v := range x.v {
				out.v[i] = math.Trunc(v)
			}
			return out, nil
		}
		return nil, fmt.Errorf("Cast to %d not in the test evaluator", intAttr(n, "to", 0))
	case "Shape":
		out := &rtensor{dt: onnxpb.TensorProto_INT64, shape: []int{len(x.shape)}}
		for _, d := range x.shape {
			out.v = append(out.v, float64(d))
		}
		return out, nil
	case "Gather": // of a 1-D tensor
		if len(x.shape) != 1 || intAttr(n, "axis", 0) != 0 {
			return nil, fmt.Errorf("Gather of %v on axis %d not in the test evaluator", x.shape, intAttr(n, "axis", 0))
		}
		out := &rtensor{dt: x.dt, shape: in[1].shape}
		for _, i := range in[1].v {
			if i < 0 {
				i += float64(x.shape[0])
			}
			out.v = append(out.v, x.v[int(i)])
		}
		return out, nil
	case "Unsqueeze": // axes input (opset 13), non-negative, sorted
		s := append([]int(nil), x.shape...)
		for _, a := range in[1].v {
			s = append(s[:int(a)], append([]int{1}, s[int(a):]...)...)
		}
		return &rtensor{dt: x.dt, shape: s, v: x.v}, nil
	case "Div", "Sub": // same shapes or a one-value operand; integers divide truncating
		y := in[1]
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		if len(y.v) != len(x.v) && len(y.v) != 1 {
			return nil, fmt.Errorf("broadcast %v, %v not supported", x.shape, y.shape)
		}
		for i, a := range x.v {
			b := y.v[i%len(y.v)]
			switch {
			case n.GetOpType() == "Sub":
				out.v[i] = a - b
			case x.dt == onnxpb.TensorProto_FLOAT:
				out.v[i] = float64(float32(a) / float32(b))
			default:
				out.v[i] = math.Trunc(a / b)
			}
		}
		return out, nil
	case "HardSwish":
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			out.v[i] = v * math.Max(0, math.Min(1, v/6+0.5))
		}
		return out, nil
	case "Slice": // constant starts, ends, axes and steps; positive steps
		os := append([]int(nil), x.shape...)
		first := make([]int, len(os))
		step := make([]int, len(os))
		for a := range step {
			step[a] = 1
		}
		for k := range in[1].v {
			a, st := k, 1.0 // axes and steps are optional
			if len(in) > 3 && in[3] != nil {
				a = int(in[3].v[k])
			}
			if len(in) > 4 && in[4] != nil {
				st = in[4].v[k]
			}
			if a < 0 {
				a += len(os)
			}
			d := float64(x.shape[a])
			b, e := in[1].v[k], in[2].v[k]
			if b < 0 {
				b += d
			}
			if e < 0 {
				e += d
			}
			b, e = math.Min(math.Max(b, 0), d), math.Min(math.Max(e, 0), d)
			if st < 1 {
				return nil, fmt.Errorf("Slice step %v not in the test evaluator", st)
			}
			first[a], step[a], os[a] = int(b), int(st), int(math.Max(math.Ceil((e-b)/st), 0))
		}
		out := &rtensor{dt: x.dt, shape: os, v: make([]float64, size(os))}
		pos := make([]int, len(os))
		for i := range out.v {
			src := 0
			for a := range os {
				src = src*x.shape[a] + first[a] + pos[a]*step[a]
			}
			out.v[i] = x.v[src]
			for a := len(os) - 1; a >= 0; a-- {
				if pos[a]++; pos[a] < os[a] {
					break
				}
				pos[a] = 0
			}
		}
		return out, nil
	case "Transpose":
		perm := ints(n, "perm")
		os := make([]int, len(perm))
		for i, p := range perm {
			os[i] = x.shape[p]
		}
		out := &rtensor{dt: x.dt, shape: os, v: make([]float64, len(x.v))}
		idx := make([]int, len(os))
		for o := range out.v {
			// o -> output index -> input offset
			r := o
			for d := len(os) - 1; d >= 0; d-- {
				idx[d] = r % os[d]
				r /= os[d]
			}
			off := 0
			for d := range x.shape {
				// input dim d is output dim j where perm[j] == d
				for j, p := range perm {
					if int(p) == d {
						off = off*x.shape[d] + idx[j]
					}
				}
			}
			out.v[o] = x.v[off]
		}
		return out, nil
	case "QuantizeLinear", "DequantizeLinear":
		s, zp := in[1], in[2]
		axis := int(intAttr(n, "axis", 1))
		if axis < 0 {
			axis += len(x.shape)
		}
		inner := 1
		if len(s.v) > 1 {
			inner = size(x.shape[axis+1:])
		}
		out := &rtensor{dt: onnxpb.TensorProto_FLOAT, shape: x.shape, v: make([]float64, len(x.v))}
		if n.GetOpType() == "QuantizeLinear" {
			out.dt = zp.dt
		}
		lo, hi := -128.0, 127.0
		if zp.dt == onnxpb.TensorProto_UINT8 {
			lo, hi = 0, 255
		}
		for i, v := range x.v {
			c := 0
			if len(s.v) > 1 {
				c = (i / inner) % len(s.v)
			}
			sc, z := float32(s.v[c]), zp.v[c]
			if n.GetOpType() == "QuantizeLinear" {
				q := roundHalfEven(float64(float32(v)/sc)) + z
				out.v[i] = math.Min(math.Max(q, lo), hi)
			} else {
				out.v[i] = float64(float32(v-z) * sc)
			}
		}
		return out, nil
	case "Relu":
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			out.v[i] = math.Max(v, 0)
		}
		return out, nil
	case "Clip":
		lo, hi := math.Inf(-1), math.Inf(1)
		if len(in) > 1 && in[1] != nil {
			lo = in[1].v[0]
		}
		if len(in) > 2 && in[2] != nil {
			hi = in[2].v[0]
		}
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			out.v[i] = math.Min(math.Max(v, lo), hi)
		}
		return out, nil
	case "Sigmoid", "Tanh":
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			if n.GetOpType() == "Tanh" {
				out.v[i] = math.Tanh(v)
			} else {
				out.v[i] = 1 / (1 + math.Exp(-v))
			}
		}
		return out, nil
	case "Add":
		y := in[1]
		if len(y.v) != len(x.v) {
			return nil, fmt.Errorf("broadcast %v + %v not supported", x.shape, y.shape)
		}
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i := range x.v {
			out.v[i] = float64(float32(x.v[i]) + float32(y.v[i]))
		}
		return out, nil
	case "Mul":
		return evalMul(x, in[1])
	case "HardSigmoid":
		alpha, beta := float64(floatAttr(n, "alpha", 0.2)), float64(floatAttr(n, "beta", 0.5))
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			out.v[i] = math.Max(0, math.Min(1, alpha*v+beta))
		}
		return out, nil
	case "GlobalMaxPool":
		N, C, hw := x.shape[0], x.shape[1], size(x.shape[2:])
		out := &rtensor{dt: x.dt, shape: []int{N, C, 1, 1}, v: make([]float64, N*C)}
		for i := range out.v {
			m := math.Inf(-1)
			for _, v := range x.v[i*hw : (i+1)*hw] {
				m = math.Max(m, v)
			}
			out.v[i] = m
		}
		return out, nil
	case "Flatten":
		return &rtensor{dt: x.dt, shape: []int{x.shape[0], size(x.shape[1:])}, v: x.v}, nil
	case "Reshape":
		var s []int
		infer := -1
		for i, d := range in[1].v {
			switch {
			case d == 0:
				s = append(s, x.shape[i])
			case d == -1:
				infer = i
				s = append(s, 1)
			default:
				s = append(s, int(d))
			}
		}
		if infer >= 0 {
			s[infer] = len(x.v) / size(s)
		}
		return &rtensor{dt: x.dt, shape: s, v: x.v}, nil
	case "Concat":
		axis := int(intAttr(n, "axis", 0))
		if axis < 0 {
			axis += len(x.shape)
		}
		os := append([]int(nil), x.shape...)
		os[axis] = 0
		for _, t := range in {
			os[axis] += t.shape[axis]
		}
		outer, inner := size(os[:axis]), size(os[axis+1:])
		out := &rtensor{dt: x.dt, shape: os, v: make([]float64, 0, size(os))}
		for o := 0; o < outer; o++ {
			for _, t := range in {
				w := t.shape[axis] * inner
				out.v = append(out.v, t.v[o*w:(o+1)*w]...)
			}
		}
		return out, nil
	case "Softmax":
		c := x.shape[len(x.shape)-1]
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for r := 0; r < len(x.v)/c; r++ {
			row := x.v[r*c : (r+1)*c]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, v)
			}
			s := 0.0
			for _, v := range row {
				s += math.Exp(v - m)
			}
			for i, v := range row {
				out.v[r*c+i] = math.Exp(v-m) / s
			}
		}
		return out, nil
	case "Gemm":
		b := in[1]
		k, units := b.shape[0], b.shape[1]
		transB := intAttr(n, "transB", 0) != 0
		if transB {
			units, k = k, units
		}
		rows := x.shape[0]
		out := &rtensor{dt: x.dt, shape: []int{rows, units}, v: make([]float64, rows*units)}
		for r := 0; r < rows; r++ {
			for u := 0; u < units; u++ {
				s := 0.0
				for j := 0; j < k; j++ {
					w := b.v[j*units+u]
					if transB {
						w = b.v[u*k+j]
					}
					s += x.v[r*k+j] * w
				}
				if len(in) > 2 && in[2] != nil {
					s += in[2].v[u]
				}
				out.v[r*units+u] = s
			}
		}
		return out, nil
	case "BatchNormalization":
		eps := float64(floatAttr(n, "epsilon", 1e-5))
		c := x.shape[1]
		inner := size(x.shape[2:])
		out := &rtensor{dt: x.dt, shape: x.shape, v: make([]float64, len(x.v))}
		for i, v := range x.v {
			ch := (i / inner) % c
			out.v[i] = in[1].v[ch]*(v-in[3].v[ch])/math.Sqrt(in[4].v[ch]+eps) + in[2].v[ch]
		}
		return out, nil
	case "ReduceMean": // over H and W of NCHW only
		axes := ints(n, "axes")
		if len(axes) != 2 || len(x.shape) != 4 || (axes[0]+4)%4+(axes[1]+4)%4 != 5 || axes[0] == axes[1] {
			return nil, fmt.Errorf("ReduceMean axes %v of %v not in the test evaluator", axes, x.shape)
		}
		g, err := evalWindow(&onnxpb.NodeProto{OpType: proto.String("GlobalAveragePool")}, in)
		if err != nil || intAttr(n, "keepdims", 1) != 0 {
			return g, err
		}
		g.shape = g.shape[:2]
		return g, nil
	case "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Pad":
		return evalWindow(n, in)
	}
	return nil, fmt.Errorf("op %s not in the test evaluator", n.GetOpType())
}

// evalMul multiplies x and y element-wise with multidirectional (NumPy)
// broadcasting, in float32 as a float32 runtime does.
func evalMul(x, y *rtensor) (*rtensor, error) {
	rank := max(len(x.shape), len(y.shape))
	pad := func(s []int) []int { return append(make([]int, rank-len(s)), s...) }
	xs, ys := pad(x.shape), pad(y.shape)
	os := make([]int, rank)
	for d := range os {
		if xs[d] == 0 {
			xs[d] = 1
		}
		if ys[d] == 0 {
			ys[d] = 1
		}
		switch {
		case xs[d] == ys[d] || ys[d] == 1:
			os[d] = xs[d]
		case xs[d] == 1:
			os[d] = ys[d]
		default:
			return nil, fmt.Errorf("broadcast %v * %v", x.shape, y.shape)
		}
	}
	// offset of output position p in a tensor of padded shape s
	offset := func(s, p []int) int {
		off := 0
		for d := range s {
			if s[d] != 1 {
				off = off*s[d] + p[d]
			}
		}
		return off
	}
	out := &rtensor{dt: x.dt, shape: os, v: make([]float64, size(os))}
	p := make([]int, rank)
	for o := range out.v {
		r := o
		for d := rank - 1; d >= 0; d-- {
			p[d] = r % os[d]
			r /= os[d]
		}
		out.v[o] = float64(float32(x.v[offset(xs, p)]) * float32(y.v[offset(ys, p)]))
	}
	return out, nil
}

// evalWindow computes the NCHW window ops and Pad.
func evalWindow(n *onnxpb.NodeProto, in []*rtensor) (*rtensor, error) {
	x := in[0]
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	at := func(b, c, h, w int) float64 { return x.v[((b*C+c)*H+h)*W+w] }
	op := n.GetOpType()
	if op == "GlobalAveragePool" {
		out := &rtensor{dt: x.dt, shape: []int{N, C, 1, 1}, v: make([]float64, N*C)}
		for b := 0; b < N; b++ {
			for c := 0; c < C; c++ {
				s := 0.0
				for h := 0; h < H; h++ {
					for w := 0; w < W; w++ {
						s += at(b, c, h, w)
					}
				}
				out.v[b*C+c] = s / float64(H*W)
			}
		}
		return out, nil
	}
	if op == "Pad" {
		p := in[1].v
		t, l, bo, r := int(p[2]), int(p[3]), int(p[6]), int(p[7])
		oh, ow := H+t+bo, W+l+r
		out := &rtensor{dt: x.dt, shape: []int{N, C, oh, ow}, v: make([]float64, N*C*oh*ow)}
		for b := 0; b < N; b++ {
			for c := 0; c < C; c++ {
				for h := 0; h < H; h++ {
					for w := 0; w < W; w++ {
						out.v[((b*C+c)*oh+h+t)*ow+w+l] = at(b, c, h, w)
					}
				}
			}
		}
		return out, nil
	}
	ks, st, pads := ints(n, "kernel_shape"), ints(n, "strides"), ints(n, "pads")
	if len(pads) == 0 {
		pads = []int64{0, 0, 0, 0}
	}
	if len(st) == 0 {
		st = []int64{1, 1}
	}
	kh, kw, sh, sw := int(ks[0]), int(ks[1]), int(st[0]), int(st[1])
	pt, pl, pb, pr := int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])
	dh, dw := 1, 1
	if d := ints(n, "dilations"); len(d) == 2 {
		dh, dw = int(d[0]), int(d[1])
	}
	oh, ow := (H+pt+pb-((kh-1)*dh+1))/sh+1, (W+pl+pr-((kw-1)*dw+1))/sw+1
	if op != "Conv" && intAttr(n, "ceil_mode", 0) != 0 {
		oh, ow = (H+pt+pb-kh+sh-1)/sh+1, (W+pl+pr-kw+sw-1)/sw+1
	}
	includePad := op == "AveragePool" && intAttr(n, "count_include_pad", 0) != 0
	oc, group := C, 1
	if op == "Conv" {
		oc, group = in[1].shape[0], int(intAttr(n, "group", 1))
	}
	out := &rtensor{dt: x.dt, shape: []int{N, oc, oh, ow}, v: make([]float64, N*oc*oh*ow)}
	for b := 0; b < N; b++ {
		for o := 0; o < oc; o++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					acc, cnt, padded, m := 0.0, 0, 0, math.Inf(-1)
					cin := C / group
					for ci := 0; ci < cin; ci++ {
						c := ci
						if op == "Conv" {
							c = (o/(oc/group))*cin + ci
						} else {
							c = o
							if ci > 0 {
								break
							}
						}
						for a := 0; a < kh; a++ {
							for bb := 0; bb < kw; bb++ {
								h, w := y*sh-pt+a*dh, xx*sw-pl+bb*dw
								if h >= -pt && h < H+pb && w >= -pl && w < W+pr {
									padded++ // inside the pads, not past them (ceil_mode)
								}
								if h < 0 || h >= H || w < 0 || w >= W {
									continue
								}
								v := at(b, c, h, w)
								switch op {
								case "Conv":
									acc += v * in[1].v[((o*cin+ci)*kh+a)*kw+bb]
								case "MaxPool":
									m = math.Max(m, v)
								default:
									acc += v
									cnt++
								}
							}
						}
					}
					r := acc
					switch op {
					case "Conv":
						if len(in) > 2 && in[2] != nil {
							r += in[2].v[o]
						}
					case "MaxPool":
						r = m
					case "AveragePool":
						if includePad {
							cnt = padded
						}
						r = acc / float64(cnt)
					}
					out.v[((b*oc+o)*oh+y)*ow+xx] = r
				}
			}
		}
	}
	return out, nil
}

// evalModel runs a model on one float input (N, ...) given as float32.
func evalModel(mp *onnxpb.ModelProto, shape []int, x []float32) (*rtensor, error) {
	t := &rtensor{dt: onnxpb.TensorProto_FLOAT, shape: shape, v: make([]float64, len(x))}
	for i, v := range x {
		t.v[i] = float64(v)
	}
	outs, err := evalGraph(mp.GetGraph(), map[string]*rtensor{mp.GetGraph().GetInput()[0].GetName(): t})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}
