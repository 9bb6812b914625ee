package lite

import (
	"fmt"
	"strings"
)

// Summary describes an integer model: every tensor with its shape, type,
// scale, zero point and bits (after the rounding mode, when it is not
// goqat's), then every op with its inputs, output and
// weight bits (the per-layer bits) and the number of weights.
func (m *Model) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Integer model %q: %d tensors, %d ops\n", m.Name, len(m.Tensors), len(m.Ops))
	if m.Rounding != RoundingGoqat {
		fmt.Fprintf(&b, "Rounding: %s (docs/tflite.md)\n", m.Rounding)
	}
	fmt.Fprintf(&b, "%-4s %-36s %-14s %-8s %-13s %-6s %s\n", "#", "tensor", "shape", "dtype", "scale", "zp", "bits")
	for i, t := range m.Tensors {
		if t.DType == Float32 {
			fmt.Fprintf(&b, "%-4d %-36s %-14s %s\n", i, t.Name, t.Shape, t.DType)
			continue
		}
		fmt.Fprintf(&b, "%-4d %-36s %-14s %-8s %-13.6g %-6d %d\n", i, t.Name, t.Shape, t.DType, t.Scale, t.ZeroPoint, t.Bits)
	}
	fmt.Fprintf(&b, "%-4s %-18s %-28s %-12s %-12s %-7s %s\n", "#", "op", "name", "inputs", "output", "w-bits", "weights")
	nw := 0
	for k, op := range m.Ops {
		bits, w := "-", "-"
		if op.Type.hasWeights() {
			bits = fmt.Sprint(op.WeightBits)
			w = fmt.Sprintf("%d (%d scales)", len(op.Weights), len(op.WeightScales))
			nw += len(op.Weights)
		}
		fmt.Fprintf(&b, "%-4d %-18s %-28s %-12s %-12d %-7s %s\n", k, op.Type, op.Name, fmt.Sprint(op.Inputs), op.Output, bits, w)
	}
	fmt.Fprintf(&b, "Weights: %d\n", nw)
	return b.String()
}

// LayerBits returns each weighted op's name and weight bits, in order.
func (m *Model) LayerBits() []string {
	var out []string
	for _, op := range m.Ops {
		if op.Type.hasWeights() {
			out = append(out, fmt.Sprintf("%s: %d-bit weights", op.Name, op.WeightBits))
		}
	}
	return out
}
