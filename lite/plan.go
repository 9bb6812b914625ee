package lite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/qkernels"
)

// resources returns the resource plan of a valid model
// (docs/RELIABILITY.md, Resource bounds): the buffers of its tensors (the
// inputs' and outputs' own and the activation arena's, arena.go, or with
// keep one per tensor) and, for an int8 output, Output's float copy; per
// op, its work, its scratch per sample (padded
// copies of the input) and in all (weights as loaded and packed, per-thread
// buffers).
func (m *Model) resources(keep bool) *bounds.Plan {
	p := &bounds.Plan{}
	isOut := make([]bool, len(m.Tensors))
	for _, i := range m.Outputs {
		isOut[i] = true
	}
	a := planArena(m, planAddFusion(m))
	if !keep {
		p.Add("activation arena", 0, a.bytes(), 0)
	}
	for i := range m.Tensors {
		if !keep && a.slot[i] >= 0 {
			continue
		}
		t := &m.Tensors[i]
		per := int64(1)
		if t.DType == Float32 {
			per = 4
		} else if isOut[i] {
			per = 5 // and Output's float32 copy
		}
		p.Add(t.Name, 0, bounds.SatMul(per, int64(t.Shape.Size())), 0)
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		work, scratch, fixed := opCost(m, op)
		p.Add(op.Name, work, scratch, fixed)
	}
	return p
}

// opCost returns an op's work per sample, scratch bytes per sample and
// fixed bytes, for the plan. Per-thread buffers and padded copies of the
// input are counted twice: the interpreter's own, and those of the shares
// a large batch is split into (see batchSplit), which size their own.
func opCost(m *Model, op *Op) (work, scratch, fixed int64) {
	out := m.Tensors[op.Output].Shape
	in := m.Tensors[op.Inputs[0]].Shape
	outV := int64(out.Size())
	threads := 2 * int64(max(kernels.Threads(), 1))
	// Weights as loaded (one int8 each) and biases; the kernel's own
	// values (output stages, multipliers and tables per channel).
	fixed = bounds.SatAdd(int64(len(op.Weights)), bounds.SatMul(4, int64(len(op.Bias))), opOverhead, bounds.SatMul(64, int64(out[len(out)-1])))
	switch op.Type {
	case OpConv2D:
		ws := op.WeightShape
		g := int64(max(op.Groups, 1))
		K := bounds.SatMul(int64(ws[0]), int64(ws[1]), int64(ws[2]))
		work = bounds.SatAdd(bounds.SatMul(int64(out[0]), int64(out[1]), K, int64(ws[3])), outV)
		fixed = bounds.SatAdd(fixed, bounds.SatMul(g, packedBytes(K, int64(ws[3])/g)),
			bounds.SatMul(threads, g, qkernels.MR, bounds.SatAdd(K, 8)))
		pointwise := op.Kernel == [2]int{1, 1} && op.Strides == [2]int{1, 1} && op.Pad == [4]int{}
		if general := g > 1 || op.Dilation[0] > 1 || op.Dilation[1] > 1; !general && !pointwise && op.Kernel[1]*in[2] < 32 {
			hp := bounds.SatAdd(bounds.SatMul(int64(out[0]-1), int64(op.Strides[0])), int64(op.Kernel[0]))
			wp := bounds.SatAdd(bounds.SatMul(int64(out[1]-1), int64(op.Strides[1])), int64(op.Kernel[1]))
			scratch = bounds.SatMul(2, hp, wp, int64(in[2]))
		}
	case OpDepthwiseConv2D:
		dh, dw := int64(max(op.Dilation[0], 1)), int64(max(op.Dilation[1], 1))
		work = bounds.SatMul(int64(out[0]), int64(out[1]), int64(op.Kernel[0]), int64(op.Kernel[1]), int64(out[2]))
		// The padded copy of the input, each channel repeated M times.
		hp := bounds.SatAdd(bounds.SatMul(int64(out[0]-1), int64(op.Strides[0])), bounds.SatMul(int64(op.Kernel[0]-1), dh), 1)
		wp := bounds.SatAdd(bounds.SatMul(int64(out[1]-1), int64(op.Strides[1])), bounds.SatMul(int64(op.Kernel[1]-1), dw), 1)
		scratch = bounds.SatMul(2, max(hp, int64(in[0])), max(wp, int64(in[1])), int64(out[2]))
		// Per thread a row of accumulators, or the pair-row kernel's three
		// pair rows (and one row of zeros).
		fixed = bounds.SatAdd(fixed, bounds.SatMul(threads+1, 12, bounds.SatAdd(wp, 4), int64(out[2])))
	case OpFullyConnected:
		ws := op.WeightShape
		work = bounds.SatAdd(bounds.SatMul(int64(ws[0]), int64(ws[1])), outV)
		fixed = bounds.SatAdd(fixed, packedBytes(int64(ws[0]), int64(ws[1])),
			bounds.SatMul(threads, qkernels.MR, bounds.SatAdd(int64(ws[0]), 8)))
	case OpMaxPool, OpAveragePool:
		// Every output pixel visits its whole window, the cells in the
		// padding included.
		work = bounds.SatMul(int64(out[0]), int64(out[1]), int64(op.Kernel[0]), int64(op.Kernel[1]), int64(out[2]))
		fixed = bounds.SatAdd(fixed, bounds.SatMul(4, int64(out[2])))
	case OpLSTM, OpSimpleRNN, OpGRU:
		var consts int64
		work, scratch, consts = lstmCost(op, in)
		fixed = bounds.SatAdd(fixed, consts)
	case OpGlobalAveragePool, OpGlobalMaxPool:
		work = bounds.SatAdd(int64(in.Size()), outV)
		fixed = bounds.SatAdd(fixed, bounds.SatMul(threads, 4, int64(out[0])))
	default: // element-wise, Pad, Concatenation, Reshape, Softmax
		work = bounds.SatMul(outV, int64(len(op.Inputs)+1))
	}
	return work, scratch, fixed
}

// opOverhead is the memory the plan counts for each op besides its
// buffers: the kernel's Go values.
const opOverhead = 4 << 10

// packedBytes bounds the bytes of a (K, N) weight matrix packed for the
// int8 GEMM: panels of 16 or 32 columns by K rounded up to 4, 128 bytes
// per 4 rows of a panel.
func packedBytes(k, n int64) int64 {
	return bounds.SatMul((n+15)/16, (k+3)/4, 128)
}

// CheckBounds validates the model and returns an error if one sample's
// work is over limits.MaxWork or a batch of one needs more than
// limits.MaxMemory (package github.com/goqat/goqat/limits). Load, Read and
// NewInterpreter call it.
func (m *Model) CheckBounds() error {
	if err := m.Validate(); err != nil {
		return err
	}
	return m.resources(false).Check(fmt.Sprintf("lite: model %q", m.Name))
}

// InferenceBytes returns the memory an Interpreter of the model plans for
// batches of n samples: every tensor's buffer times n, plus the weights
// (as loaded and packed) and the scratch. It saturates at math.MaxInt64,
// and returns it for a model that does not validate.
func (m *Model) InferenceBytes(n int) int64 {
	if m.Validate() != nil {
		return math.MaxInt64
	}
	return m.resources(false).Bytes(n)
}

// InferenceBatch returns the largest batch, at most want, whose
// InferenceBytes fit in limits.MaxMemory, or an error if the model does
// not validate or not even one sample fits. Accuracy runs in batches of
// this size.
func (m *Model) InferenceBatch(want int) (int, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	return m.resources(false).FitBatch(fmt.Sprintf("lite: model %q", m.Name), want)
}
