package quantize

import (
	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Cost implements nn.Coster for the resource plan (docs/RELIABILITY.md,
// Resource bounds): the wrapped layer's cost, plus the output fake quant
// (a pass over the output into the wrapper's own buffer) and what exact
// inference keeps per sample (the input's codes, the high half of a split
// product) and in all (the kernel's codes, two copies).
func (w *QuantizeWrapper) Cost(in []tensor.Shape, out tensor.Shape) nn.Cost {
	if w.Layer == nil {
		return nn.Cost{Work: -1}
	}
	c := nn.CostOf(w.Layer, in, out)
	o, i := shapeValues(out), sumShapeValues(in)
	c.Work = bounds.SatAdd(c.Work, o, i)
	c.Bytes = bounds.SatAdd(c.Bytes, bounds.SatMul(4, bounds.SatAdd(o, o, i)))
	if k := w.kernelParam(); k != nil {
		c.Fixed = bounds.SatAdd(c.Fixed, bounds.SatMul(8, int64(len(k.Value.Data))))
	}
	return c
}

// Cost implements nn.Coster for the resource plan (docs/RELIABILITY.md,
// Resource bounds): the inner convolution's cost, plus the folding passes
// over the output (three buffers of its size) and exact inference's input
// codes per sample, and the folded kernel's copies (the scaled kernel,
// the inner layer's, two of codes) in all.
func (l *FoldedConvBN) Cost(in []tensor.Shape, out tensor.Shape) nn.Cost {
	if l.conv == nil || l.kernel == nil {
		return nn.Cost{Work: -1}
	}
	c := nn.CostOf(l.conv, in, out)
	o, i := shapeValues(out), sumShapeValues(in)
	c.Work = bounds.SatAdd(c.Work, bounds.SatMul(3, o), i)
	c.Bytes = bounds.SatAdd(c.Bytes, bounds.SatMul(4, bounds.SatAdd(bounds.SatMul(3, o), i)))
	c.Fixed = bounds.SatAdd(c.Fixed, bounds.SatMul(16, int64(len(l.kernel.Value.Data))))
	return c
}

// shapeValues is the number of values of a per-sample shape, saturating.
func shapeValues(s tensor.Shape) int64 {
	v := int64(1)
	for _, d := range s {
		v = bounds.SatMul(v, int64(d))
	}
	return v
}

// sumShapeValues is the values of all the shapes, saturating.
func sumShapeValues(ss []tensor.Shape) int64 {
	var v int64
	for _, s := range ss {
		v = bounds.SatAdd(v, shapeValues(s))
	}
	return v
}
