package nn

import (
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// step is one layer of a model's execution plan.
type step struct {
	node    *Node
	layer   Layer
	inSlots []int            // value slots of the layer's inputs
	ins     []*tensor.Tensor // reused argument slice for Forward

	// Fusion of a BatchNormalization with the ReLU or ReLU6 that alone
	// reads its output (see planFusion): on the BN's step, bn and act
	// (actCore of the activation layer) are set and the BN computes the
	// activation's output in the same pass; the activation's step has
	// fused set and only passes values and gradients through.
	bn    *BatchNormalization
	act   *actCore
	fused bool

	// pool, on a fused BN step, is the MaxPooling2D that alone reads the
	// activation's output (see planPoolFusion): the BN step computes the
	// pooled output too, and the pooling step, marked fused, only passes
	// values and gradients through. poolNode is the pooling's node.
	pool     *MaxPooling2D
	poolNode *Node

	// noInGrad marks a Conv2D whose inputs are all model inputs (see
	// planInputGrads): Backward skips its input gradient.
	noInGrad *Conv2D

	// frozenIn marks a Composite whose inputs are all model inputs:
	// Backward skips it while none of its parameters is trainable.
	frozenIn bool
}

// plan lays out the execution of a new model whose layer nodes are
// layerNodes, in topological order: one value slot per input, then one per
// layer; one step per layer, reading its inputs' slots; the slots of the
// outputs; the buffers Forward and Backward reuse; and the fusions and
// skipped gradients of planFusion, planPoolFusion and planInputGrads.
func (m *Model) plan(layerNodes []*Node) {
	inputs, outputs := m.inputs, m.outputs
	slot := map[*Node]int{}
	for i, x := range inputs {
		slot[x] = i
	}
	for k, x := range layerNodes {
		slot[x] = len(inputs) + k
		st := step{node: x, layer: x.layer, ins: make([]*tensor.Tensor, len(x.inbound))}
		for _, p := range x.inbound {
			st.inSlots = append(st.inSlots, slot[p])
		}
		m.steps = append(m.steps, st)
		m.layers = append(m.layers, x.layer)
		m.byName[x.layer.Name()] = x.layer
	}
	for _, y := range outputs {
		m.outSlots = append(m.outSlots, slot[y])
	}
	nSlots := len(inputs) + len(layerNodes)
	m.vals = make([]*tensor.Tensor, nSlots)
	m.gradSrc = make([]*tensor.Tensor, nSlots)
	m.gradCnt = make([]int, nSlots)
	m.gradBuf = make([]*tensor.Tensor, nSlots)
	m.outs = make([]*tensor.Tensor, len(outputs))
	m.planFusion(len(inputs))
	m.planPoolFusion(len(inputs))
	m.planInputGrads(len(inputs))
}

// planInputGrads marks every Conv2D that reads only model inputs, whose
// input gradient Backward drops: such a layer computes its weight gradients
// alone (no dCol GEMM, no col2im), the same values. Only the built-in type
// is marked, not types that embed it. It also marks every Composite that
// reads only model inputs, which Backward skips while it has nothing to
// train (a frozen backbone). base is the number of model inputs.
func (m *Model) planInputGrads(base int) {
	for k := range m.steps {
		st := &m.steps[k]
		if len(st.inSlots) == 0 {
			continue
		}
		fromInputs := true
		for _, s := range st.inSlots {
			fromInputs = fromInputs && s < base
		}
		if !fromInputs {
			continue
		}
		if conv, ok := st.layer.(*Conv2D); ok {
			st.noInGrad = conv
		}
		if _, ok := st.layer.(Composite); ok {
			st.frozenIn = true
		}
	}
}

// resources returns the model's resource plan for inference
// (docs/RELIABILITY.md, Resource bounds): per input, the batch and
// Evaluate's copy of it; per layer, its CostOf and its parameters (value
// and gradient). It is made once: the graph does not change.
func (m *Model) resources() *bounds.Plan {
	if m.res == nil {
		m.res = m.planResources()
	}
	return m.res
}

// planResources makes the plan resources returns.
func (m *Model) planResources() *bounds.Plan {
	p := &bounds.Plan{}
	// The float GEMM's packing buffers, one per thread and the caller's,
	// pooled by the process.
	p.Add("(GEMM workspace)", 0, 0, bounds.SatMul(int64(kernels.Threads()+1), gemmWorkspace))
	for _, x := range m.inputs {
		p.Add(x.name, 0, bounds.SatMul(8, values(x.shape)), 0)
	}
	for _, st := range m.steps {
		in := make([]tensor.Shape, len(st.node.inbound))
		for i, x := range st.node.inbound {
			in[i] = x.shape
		}
		c := CostOf(st.layer, in, st.node.shape)
		if _, pool := st.layer.(*MaxPooling2D); (st.fused && !pool) || st.pool != nil {
			// A fused activation passes its BatchNormalization's buffer
			// on; a BatchNormalization fused with a pooling writes the
			// pooling's buffer, which the pooling's step counts.
			c.Bytes = 0
		}
		fixed := bounds.SatAdd(c.Fixed, layerOverhead)
		for _, q := range st.layer.Params() {
			per := int64(4)
			if q.Grad != nil {
				per = 8
			}
			fixed = bounds.SatAdd(fixed, bounds.SatMul(per, int64(len(q.Value.Data))))
		}
		p.Add(st.layer.Name(), c.Work, c.Bytes, fixed)
		for _, sc := range c.Scratch {
			p.AddScratch(st.layer.Name(), sc)
		}
	}
	return p
}

// gemmWorkspace bounds the packing buffers of one goroutine's float GEMM
// (internal/kernels: packed B blocks of up to 320 x 1024 floats, an A
// panel and a tile): 2 MiB.
const gemmWorkspace = 2 << 20

// layerOverhead is the memory the plan counts for each layer besides its
// Cost and parameters: its Go values (tensor headers, shapes, slices).
const layerOverhead = 1 << 10

// CheckBounds returns an error if one sample's work is over
// limits.MaxWork or a batch of one needs more than limits.MaxMemory
// (package github.com/goqat/goqat/limits). nn.Load calls it, and so does
// onnx.Import, before anything runs.
func (m *Model) CheckBounds() error {
	return m.resources().Check(fmt.Sprintf("model %q", m.name))
}

// InferenceBytes returns the memory the model plans for an inference
// pass (Forward, Evaluate, Predict) over a batch of n samples: every
// layer's output times n, plus the parameters and the scratch sized by one
// sample, such as im2col buffers. It saturates at math.MaxInt64.
func (m *Model) InferenceBytes(n int) int64 { return m.resources().Bytes(n) }

// InferenceBatch returns the largest batch, at most want, whose
// InferenceBytes fit in limits.MaxMemory, or an error if not even one
// sample fits. Evaluate and Predict run in batches of this size.
func (m *Model) InferenceBatch(want int) (int, error) {
	return m.resources().FitBatch(fmt.Sprintf("model %q", m.name), want)
}
