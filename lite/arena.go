package lite

// arena assigns the model's intermediate tensors to shared buffers by
// liveness (docs/DESIGN.md, Int8 engine): walking the ops in order, an
// op's output takes a free buffer of its type (the best fit: the
// smallest at least as large, else the largest, which grows), and a
// tensor's buffer is free again after the last op that reads it. Two
// tensors share a buffer only if one is dead before the other is
// written, so Invoke computes the same values as with a buffer per
// tensor. The model's inputs and outputs keep buffers of their own (they
// are read after Invoke), as do the int8 codes of a dequantized output
// (OutputInt8) and every tensor of an interpreter that keeps them all
// (KeepTensors).
type arena struct {
	slot []int // per tensor: its buffer, -1 for one of its own
	size []int // per buffer: the largest per-sample size of its tensors
	f32  []bool
}

// planArena returns the arena plan of a valid model.
func planArena(m *Model) *arena {
	a := &arena{slot: make([]int, len(m.Tensors))}
	own := make([]bool, len(m.Tensors))
	for _, i := range m.Inputs {
		own[i] = true
	}
	for _, i := range m.Outputs {
		own[i] = true
		for k := range m.Ops { // OutputInt8 reads a float output's codes
			if op := &m.Ops[k]; op.Output == i && op.Type == OpDequantize {
				own[op.Inputs[0]] = true
			}
		}
	}
	last := make([]int, len(m.Tensors))
	for i := range last {
		last[i] = -1
		a.slot[i] = -1
	}
	for k := range m.Ops {
		for _, i := range m.Ops[k].Inputs {
			last[i] = k
		}
	}
	var free []int
	release := func(i int) {
		if s := a.slot[i]; s >= 0 {
			free = append(free, s)
		}
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		o := op.Output
		if !own[o] && a.slot[o] < 0 {
			t := &m.Tensors[o]
			need, isF := t.Shape.Size(), t.DType == Float32
			best := -1
			for j, s := range free {
				if a.f32[s] != isF {
					continue
				}
				switch {
				case best < 0:
					best = j
				case a.size[s] >= need && (a.size[free[best]] < need || a.size[s] < a.size[free[best]]):
					best = j // a smaller buffer that fits
				case a.size[free[best]] < need && a.size[s] > a.size[free[best]]:
					best = j // none fits yet: the largest grows least
				}
			}
			if best < 0 {
				a.slot[o] = len(a.size)
				a.size, a.f32 = append(a.size, need), append(a.f32, isF)
			} else {
				s := free[best]
				free = append(free[:best], free[best+1:]...)
				a.slot[o] = s
				a.size[s] = max(a.size[s], need)
			}
		}
		for j, i := range op.Inputs {
			if last[i] == k && !containsBefore(op.Inputs, j, i) {
				release(i)
			}
		}
		if last[o] < k { // never read: free at once
			release(o)
		}
	}
	return a
}

// containsBefore reports whether xs[:j] holds v (an op reading one tensor
// twice frees it once).
func containsBefore(xs []int, j, v int) bool {
	for _, x := range xs[:j] {
		if x == v {
			return true
		}
	}
	return false
}

// bytes returns the per-sample bytes of the arena's buffers.
func (a *arena) bytes() int64 {
	var b int64
	for s, n := range a.size {
		if a.f32[s] {
			b += 4 * int64(n)
		} else {
			b += int64(n)
		}
	}
	return b
}
