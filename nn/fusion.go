package nn

import "github.com/goqat/goqat/internal/ops"

// planFusion marks every BatchNormalization whose output feeds only a
// ReLU, ReLU6 or Activation relu/relu6 layer (and is not a model output)
// to compute that activation in its own pass, forward and backward: one
// pass over the data instead of two each way, the values bit for bit those
// of the two layers run apart. It changes nothing a user sees: Layers,
// Summary and saved files are the same, and each layer's own Forward and
// Backward still work alone. Only the built-in types fuse, not types that
// embed them. base is the number of model inputs (slot of step 0).
func (m *Model) planFusion(base int) {
	readers := make([]int, len(m.vals))
	for _, st := range m.steps {
		for _, s := range st.inSlots {
			readers[s]++
		}
	}
	for _, s := range m.outSlots {
		readers[s]++
	}
	for k := range m.steps {
		st := &m.steps[k]
		var a *actCore
		switch l := st.layer.(type) {
		case *ReLU:
			a = &l.actCore
		case *ReLU6:
			a = &l.actCore
		case *Activation:
			a = &l.actCore
		default:
			continue
		}
		if len(st.inSlots) != 1 || st.inSlots[0] < base || a.fusedKind() == actLinear {
			continue
		}
		src := st.inSlots[0]
		prev := &m.steps[src-base]
		bn, ok := prev.layer.(*BatchNormalization)
		if !ok || readers[src] != 1 || len(prev.inSlots) != 1 {
			continue
		}
		prev.bn, prev.act = bn, a
		st.fused = true
	}
}

// planPoolFusion extends a BatchNormalization+activation fusion of
// planFusion with the MaxPooling2D that alone reads the activation's
// output (which is not a model output), when its windows tile the image
// (ops.MaxPoolTiles: strides equal to the window, the usual pooling): the
// BN step then writes the pooled output in the same pass, per image
// through a buffer that stays in the cache, and its backward rebuilds the
// pooling's gradient per image instead of storing it; the activation's
// output is never stored. The values are bit for bit those of the three
// layers run apart. Only the built-in type fuses. base is the number of
// model inputs.
func (m *Model) planPoolFusion(base int) {
	readers := make([]int, len(m.vals)) // layers and outputs reading a slot
	reader := make([]int, len(m.vals))  // the (last) step reading a slot
	for k, st := range m.steps {
		for _, s := range st.inSlots {
			readers[s]++
			reader[s] = k
		}
	}
	for _, s := range m.outSlots {
		readers[s]++
	}
	for k := range m.steps {
		st := &m.steps[k]
		if st.act == nil {
			continue
		}
		// The activation step is the one reading this BN's slot.
		bnSlot := base + k
		if readers[bnSlot] != 1 {
			continue
		}
		ak := reader[bnSlot]
		if !m.steps[ak].fused {
			continue
		}
		aSlot := base + ak
		if readers[aSlot] != 1 {
			continue
		}
		pk := reader[aSlot]
		ps := &m.steps[pk]
		pool, ok := ps.layer.(*MaxPooling2D)
		if !ok || len(ps.inSlots) != 1 || !ops.MaxPoolTiles(pool.geom) || len(st.node.shape) != 3 {
			continue
		}
		st.pool, st.poolNode = pool, ps.node
		ps.fused = true
	}
}
