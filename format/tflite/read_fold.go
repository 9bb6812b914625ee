package tflite

import (
	"slices"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// fold turns back the patterns export writes for goqat ops that TFLite
// expresses with several operators, so that a model goqat wrote comes back
// with its own ops (the same codes either way):
//
//   - RESHAPE to (1, 1, IN), a 1x1 CONV_2D, RESHAPE to (OUT): a
//     FullyConnected with per-channel weights;
//   - a pool whose window is the whole image (VALID, output 1x1), RESHAPE
//     to (C): GlobalAveragePool or GlobalMaxPool;
//   - a 1x1 DepthwiseConv2D with unit weights of scale 1 and zero bias
//     read only by a Concatenation: the Concatenation's own
//     requantization of that input;
//   - an LSTM's sequence, a Slice of its last step and a Reshape to (U):
//     the LSTM's last-step output.
//
// An intermediate tensor is folded away only when the pattern's next op
// is its only reader and it is not a model output.
func fold(m *lite.Model) {
	for {
		readers := map[int][]int{}
		for k, op := range m.Ops {
			for _, x := range op.Inputs {
				readers[x] = append(readers[x], k)
			}
		}
		for _, o := range m.Outputs {
			readers[o] = append(readers[o], -1)
		}
		// next returns the only reader of tensor t, or -1.
		next := func(t int) int {
			if rs := readers[t]; len(rs) == 1 {
				return rs[0]
			}
			return -1
		}
		done := true
		for k := range m.Ops {
			if foldFC(m, k, next) || foldGlobalPool(m, k, next) || foldRequant(m, k, next) || foldLastStep(m, k, next) {
				done = false
				break
			}
		}
		if done {
			return
		}
	}
}

// remove deletes the ops at the given indices.
func remove(m *lite.Model, ks ...int) {
	slices.Sort(ks)
	for i := len(ks) - 1; i >= 0; i-- {
		m.Ops = slices.Delete(m.Ops, ks[i], ks[i]+1)
	}
}

// foldFC folds Reshape, 1x1 Conv2D, Reshape starting at op k.
func foldFC(m *lite.Model, k int, next func(int) int) bool {
	r1 := &m.Ops[k]
	if r1.Type != lite.OpReshape {
		return false
	}
	in := m.Tensors[r1.Inputs[0]].Shape
	if len(in) != 1 || !m.Tensors[r1.Output].Shape.Equal(tensor.Shape{1, 1, in[0]}) {
		return false
	}
	c := next(r1.Output)
	if c < 0 || m.Ops[c].Type != lite.OpConv2D {
		return false
	}
	cv := &m.Ops[c]
	if cv.Kernel != [2]int{1, 1} || cv.Strides != [2]int{1, 1} || cv.Pad != [4]int{} || cv.Dilation != [2]int{} || cv.Groups > 1 {
		return false
	}
	r2 := next(cv.Output)
	if r2 < 0 || m.Ops[r2].Type != lite.OpReshape || len(m.Tensors[m.Ops[r2].Output].Shape) != 1 {
		return false
	}
	fc := *cv
	fc.Type, fc.Kernel, fc.Strides = lite.OpFullyConnected, [2]int{}, [2]int{}
	fc.Inputs = []int{r1.Inputs[0]}
	fc.Output = m.Ops[r2].Output
	fc.WeightShape = tensor.Shape{cv.WeightShape[2], cv.WeightShape[3]} // (1,1,IN,OUT) -> (IN,OUT), same order
	m.Ops[r2] = fc
	remove(m, k, c)
	return true
}

// foldGlobalPool folds a whole-image pool and a Reshape to (C).
func foldGlobalPool(m *lite.Model, k int, next func(int) int) bool {
	p := &m.Ops[k]
	if p.Type != lite.OpAveragePool && p.Type != lite.OpMaxPool {
		return false
	}
	in := m.Tensors[p.Inputs[0]].Shape
	if len(in) != 3 || p.Kernel != [2]int{in[0], in[1]} || p.Pad != [4]int{} {
		return false
	}
	r := next(p.Output)
	if r < 0 || m.Ops[r].Type != lite.OpReshape || !m.Tensors[m.Ops[r].Output].Shape.Equal(tensor.Shape{in[2]}) {
		return false
	}
	g := lite.Op{Type: lite.OpGlobalAveragePool, Name: m.Ops[r].Name, Inputs: p.Inputs, Output: m.Ops[r].Output}
	if p.Type == lite.OpMaxPool {
		g.Type = lite.OpGlobalMaxPool
	}
	m.Ops[r] = g
	remove(m, k)
	return true
}

// foldRequant folds a unit-weight 1x1 DepthwiseConv2D read only by a
// Concatenation into that Concatenation.
func foldRequant(m *lite.Model, k int, next func(int) int) bool {
	d := &m.Ops[k]
	if d.Type != lite.OpDepthwiseConv2D || d.Kernel != [2]int{1, 1} || d.Strides != [2]int{1, 1} || d.Pad != [4]int{} ||
		d.Dilation != [2]int{} || d.DepthMultiplier > 1 || d.Activation != "" {
		return false
	}
	for _, w := range d.Weights {
		if w != 1 {
			return false
		}
	}
	for _, s := range d.WeightScales {
		if s != 1 {
			return false
		}
	}
	for _, b := range d.Bias {
		if b != 0 {
			return false
		}
	}
	c := next(d.Output)
	if c < 0 || m.Ops[c].Type != lite.OpConcatenation {
		return false
	}
	// The Concatenation requantizes the input to its own parameters, as
	// the convolution did (the same multiplier s_in/s_out).
	if out, cat := m.Tensors[d.Output], m.Tensors[m.Ops[c].Output]; out.Scale != cat.Scale || out.ZeroPoint != cat.ZeroPoint {
		return false
	}
	for i, x := range m.Ops[c].Inputs {
		if x == d.Output {
			m.Ops[c].Inputs[i] = d.Inputs[0]
		}
	}
	remove(m, k)
	return true
}

// dropUnused removes the tensors no op, input or output refers to (left
// by fold) and renumbers the others.
func dropUnused(m *lite.Model) {
	used := make([]bool, len(m.Tensors))
	for _, i := range m.Inputs {
		used[i] = true
	}
	for _, i := range m.Outputs {
		used[i] = true
	}
	for _, op := range m.Ops {
		used[op.Output] = true
		for _, i := range op.Inputs {
			used[i] = true
		}
	}
	idx := make([]int, len(m.Tensors))
	var kept []lite.Tensor
	for i, u := range used {
		if u {
			idx[i] = len(kept)
			kept = append(kept, m.Tensors[i])
		}
	}
	m.Tensors = kept
	for k := range m.Inputs {
		m.Inputs[k] = idx[m.Inputs[k]]
	}
	for k := range m.Outputs {
		m.Outputs[k] = idx[m.Outputs[k]]
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		op.Output = idx[op.Output]
		for j := range op.Inputs {
			op.Inputs[j] = idx[op.Inputs[j]]
		}
	}
}

// foldLastStep folds an LSTM returning sequences (T, U), a Slice of step
// T-1 and a Reshape to (U) into the LSTM returning its last step.
func foldLastStep(m *lite.Model, k int, next func(int) int) bool {
	op := &m.Ops[k]
	if op.Type != lite.OpLSTM || !op.ReturnSequences {
		return false
	}
	s := next(op.Output)
	if s < 0 || m.Ops[s].Type != lite.OpSlice {
		return false
	}
	sl := &m.Ops[s]
	t := m.Tensors[op.Output].Shape[0]
	if sl.AxisFromEnd != 1 || sl.Begin != t-1 || sl.End != t {
		return false
	}
	rs := next(sl.Output)
	if rs < 0 || m.Ops[rs].Type != lite.OpReshape || len(m.Tensors[m.Ops[rs].Output].Shape) != 1 {
		return false
	}
	op.ReturnSequences = false
	op.Output = m.Ops[rs].Output
	remove(m, s, rs)
	return true
}
