package nn

import "github.com/goqat/goqat/tensor"

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
// is marked, not types that embed it. base is the number of model inputs.
func (m *Model) planInputGrads(base int) {
	for k := range m.steps {
		st := &m.steps[k]
		conv, ok := st.layer.(*Conv2D)
		if !ok || len(st.inSlots) == 0 {
			continue
		}
		fromInputs := true
		for _, s := range st.inSlots {
			fromInputs = fromInputs && s < base
		}
		if fromInputs {
			st.noInGrad = conv
		}
	}
}
