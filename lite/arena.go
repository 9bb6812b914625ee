package lite

import "github.com/goqat/goqat/internal/bounds"

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
	slot   []int  // per tensor: its buffer, -1 for one of its own
	size   []int  // per buffer: the largest per-sample size of its tensors
	f32    []bool // per buffer: float32, else int8
	unused []bool // per tensor: never written (a fused convolution's own output)
}

// planArena returns the arena plan of a valid model whose Adds run inside
// convolutions as f says (nil: none): a convolution running an Add reads
// the Add's other input and writes the Add's output, and the Add is no
// op.
func planArena(m *Model, f *addFusion) *arena {
	a := &arena{slot: make([]int, len(m.Tensors)), unused: make([]bool, len(m.Tensors))}
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
	ins := func(k int) []int { return m.Ops[k].Inputs }
	out := func(k int) int { return m.Ops[k].Output }
	if f != nil {
		ins = func(k int) []int {
			if j := f.add[k]; j >= 0 {
				return append(append([]int(nil), m.Ops[k].Inputs...), m.Ops[j].Inputs...)
			}
			if f.into[k] >= 0 {
				return nil
			}
			return m.Ops[k].Inputs
		}
		out = func(k int) int {
			if j := f.add[k]; j >= 0 {
				return m.Ops[j].Output
			}
			if f.into[k] >= 0 {
				return -1
			}
			return m.Ops[k].Output
		}
	}
	for k := range m.Ops {
		for _, i := range ins(k) {
			last[i] = k
		}
		if j := f.addOf(k); j >= 0 {
			a.unused[m.Ops[k].Output] = true
		}
	}
	var free []int
	release := func(i int) {
		if s := a.slot[i]; s >= 0 {
			free = append(free, s)
		}
	}
	for k := range m.Ops {
		o, inputs := out(k), ins(k)
		if o < 0 {
			continue // a fused Add: its convolution wrote its output
		}
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
		for j, i := range inputs {
			if last[i] == k && !containsBefore(inputs, j, i) {
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

// bytes returns the per-sample bytes of the arena's buffers, saturating
// (the plan compares it with the limits).
func (a *arena) bytes() int64 {
	var b int64
	for s, n := range a.size {
		per := int64(1)
		if a.f32[s] {
			per = 4
		}
		b = bounds.SatAdd(b, bounds.SatMul(per, int64(n)))
	}
	return b
}
