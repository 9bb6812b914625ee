package lite

// FoldPads folds every Pad op whose only reader is a Conv2D or
// DepthwiseConv2D into that op's own padding: the convolution reads the
// Pad's input directly and pads it itself, with the same zero point, so
// the model computes the same codes without the copy (Keras's MobileNet V2
// pads before each stride-2 depthwise convolution: at 224x224 these copies
// are about a tenth of its int8 time). A Pad before a MaxPool2D folds too
// when the Pad's input is never below its zero point (atLeastZeroPoint). A Pad is folded only when its input
// and output share scale and zero point (Pad fills with the zero point),
// its output is not a model output, and each padded side stays smaller than
// the convolution's dilated kernel (the geometry every convolution path
// supports). The Pad ops and their tensors are removed, the other tensors
// renumbered. It returns how many Pads were folded; m must be valid.
func (m *Model) FoldPads() int {
	readers := make([]int, len(m.Tensors)) // ops reading each tensor, +1 per model output
	for k := range m.Ops {
		for _, i := range m.Ops[k].Inputs {
			readers[i]++
		}
	}
	for _, i := range m.Outputs {
		readers[i]++
	}
	producer := make([]int, len(m.Tensors))
	for i := range producer {
		producer[i] = -1
	}
	for k := range m.Ops {
		producer[m.Ops[k].Output] = k
	}
	dead := make([]bool, len(m.Ops))
	folded := 0
	for k := range m.Ops {
		op := &m.Ops[k]
		if (op.Type != OpConv2D && op.Type != OpDepthwiseConv2D && op.Type != OpMaxPool) || len(op.Inputs) != 1 {
			continue
		}
		p := producer[op.Inputs[0]]
		if p < 0 || m.Ops[p].Type != OpPad || readers[op.Inputs[0]] != 1 {
			continue
		}
		pad := &m.Ops[p]
		in, out := &m.Tensors[pad.Inputs[0]], &m.Tensors[pad.Output]
		if in.DType != Int8 || out.DType != Int8 || in.Scale != out.Scale || in.ZeroPoint != out.ZeroPoint || in.Bits != out.Bits {
			continue
		}
		if op.Type == OpMaxPool && !atLeastZeroPoint(m, producer[pad.Inputs[0]], in) {
			continue
		}
		var sum [4]int
		ok := true
		for s := range sum {
			sum[s] = op.Pad[s] + pad.Pad[s]
			k := op.Kernel[s/2]
			d := max(op.Dilation[s/2], 1)
			if ext := (k-1)*d + 1; sum[s] >= ext {
				ok = false
			}
		}
		if !ok {
			continue
		}
		op.Inputs[0] = pad.Inputs[0]
		op.Pad = sum
		dead[p] = true
		folded++
	}
	if folded == 0 {
		return 0
	}
	ops := m.Ops[:0]
	for k := range m.Ops {
		if !dead[k] {
			ops = append(ops, m.Ops[k])
		}
	}
	m.Ops = ops
	m.dropUnusedTensors()
	return folded
}

// NeverBelowZeroPoint reports whether every code of tensor t of a valid
// model is at least its zero point because the op that writes it clamps
// there (a fused ReLU or ReLU6): a Pad of its zero point before a max
// pooling then computes what the pooling's own padding, which ignores the
// padded cells, computes (FoldPads; the TFLite export writes the PAD back
// where its pooling padding cannot say it).
func (m *Model) NeverBelowZeroPoint(t int) bool {
	if t < 0 || t >= len(m.Tensors) {
		return false
	}
	for k := range m.Ops {
		if m.Ops[k].Output == t {
			return atLeastZeroPoint(m, k, &m.Tensors[t])
		}
	}
	return false
}

// atLeastZeroPoint reports whether every code op q writes to its output t
// is at least t's zero point (a fused ReLU or ReLU6 clamps there): then a
// cell of Pad's zero point never wins a max over a window that holds an
// image cell, and MaxPool's own padding, which ignores padded cells,
// computes the same codes (Keras's ResNet pads the first convolution's
// ReLU output before its 3x3 max pooling).
func atLeastZeroPoint(m *Model, q int, t *Tensor) bool {
	if q < 0 {
		return false
	}
	switch m.Ops[q].Type {
	case OpConv2D, OpDepthwiseConv2D, OpFullyConnected, OpAdd:
	default:
		return false
	}
	lo, _ := outRange(t, m.Ops[q].Activation)
	return lo >= t.ZeroPoint
}

// dropUnusedTensors removes the tensors no op and no model input or output
// refers to and renumbers the rest, keeping their order.
func (m *Model) dropUnusedTensors() {
	used := make([]bool, len(m.Tensors))
	for _, i := range m.Inputs {
		used[i] = true
	}
	for _, i := range m.Outputs {
		used[i] = true
	}
	for k := range m.Ops {
		used[m.Ops[k].Output] = true
		for _, i := range m.Ops[k].Inputs {
			used[i] = true
		}
	}
	index := make([]int, len(m.Tensors))
	kept := m.Tensors[:0]
	for i := range m.Tensors {
		if used[i] {
			index[i] = len(kept)
			kept = append(kept, m.Tensors[i])
		}
	}
	m.Tensors = kept
	for j, i := range m.Inputs {
		m.Inputs[j] = index[i]
	}
	for j, i := range m.Outputs {
		m.Outputs[j] = index[i]
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		op.Output = index[op.Output]
		for j, i := range op.Inputs {
			op.Inputs[j] = index[i]
		}
	}
}
