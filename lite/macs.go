package lite

import "strconv"

// MultiplyAdds returns the multiply-adds op k of a valid model computes
// per sample: OH*OW*KH*KW*(C/G)*OC for a Conv2D, OH*OW*KH*KW*C*M for a
// DepthwiseConv2D (C*M output channels), IN*OUT for a FullyConnected,
// T*(F+U)*4U for an LSTM, 3U for a GRU, U for a SimpleRNN (both products
// of every step), 0 for the other ops (whose work is not multiply-adds).
// Speed reports count
// two operations per multiply-add (docs/BENCHMARKS.md).
func (m *Model) MultiplyAdds(k int) int64 {
	if k < 0 || k >= len(m.Ops) {
		return 0
	}
	op := &m.Ops[k]
	out := m.Tensors[op.Output].Shape
	switch op.Type {
	case OpConv2D:
		ws := op.WeightShape // (KH, KW, C/G, OC)
		if len(ws) != 4 || len(out) != 3 {
			return 0
		}
		return int64(out[0]) * int64(out[1]) * int64(ws[0]) * int64(ws[1]) * int64(ws[2]) * int64(ws[3])
	case OpDepthwiseConv2D:
		if len(out) != 3 {
			return 0
		}
		return int64(out[0]) * int64(out[1]) * int64(out[2]) * int64(op.Kernel[0]) * int64(op.Kernel[1])
	case OpFullyConnected:
		ws := op.WeightShape // (IN, OUT)
		if len(ws) != 2 {
			return 0
		}
		return int64(ws[0]) * int64(ws[1])
	case OpLSTM, OpSimpleRNN, OpGRU:
		ws := op.WeightShape // (F+U, 4U), (F+U, U) or (F+U, 3U)
		in := m.Tensors[op.Inputs[0]].Shape
		if len(ws) != 2 || len(in) != 2 {
			return 0
		}
		return int64(in[0]) * int64(ws[0]) * int64(ws[1])
	}
	return 0
}

// OpFamily names the kind of work op k of a valid model does, for speed
// reports: "Conv2D 1x1", "Conv2D 3x3" (the kernel size), "Conv2D 7x7
// stem" for a convolution of at most 4 input channels (a network's first
// layer), "DepthwiseConv2D 3x3 s2" (kernel and stride), else the op type.
func (m *Model) OpFamily(k int) string {
	if k < 0 || k >= len(m.Ops) {
		return ""
	}
	op := &m.Ops[k]
	switch op.Type {
	case OpConv2D:
		f := "Conv2D " + strconv.Itoa(op.Kernel[0]) + "x" + strconv.Itoa(op.Kernel[1])
		if in := m.Tensors[op.Inputs[0]].Shape; len(in) == 3 && in[2] <= 4 {
			f += " stem"
		}
		return f
	case OpDepthwiseConv2D:
		return "DepthwiseConv2D " + strconv.Itoa(op.Kernel[0]) + "x" + strconv.Itoa(op.Kernel[1]) + " s" + strconv.Itoa(op.Strides[0])
	}
	return string(op.Type)
}
