package nn

import (
	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// Cost is what one built layer asks for in inference, for the resource
// plan that loaders check before a model runs (docs/RELIABILITY.md,
// Resource bounds). Counts saturate at math.MaxInt64 (bounds.SatAdd,
// bounds.SatMul) rather than wrap; a negative count means unknown and is
// refused.
type Cost struct {
	// Work is the operations one sample takes: multiply-adds, window taps
	// visited (the padding's included), values written.
	Work int64
	// Bytes is the memory each sample of a batch needs: the layer's output
	// and any per-sample scratch.
	Bytes int64
	// Fixed is the memory a batch of any size needs besides the layer's
	// parameters (which the plan counts from Params).
	Fixed int64
	// Scratch lists buffers that grow with the batch up to a cap, such as
	// im2col buffers packed a chunk of images at a time.
	Scratch []Scratch
}

// Scratch is a buffer of which a batch of n samples needs
// min(n*PerSample, Cap) bytes, from a batch of From samples on (none
// below it).
type Scratch = bounds.Scratch

// Coster is implemented by layers that state their inference Cost for
// their input shapes and output shape (batch left out). Wrapper layers
// (quantize's) implement it by adding to CostOf of the layer they wrap. A
// layer without it is planned as an element-wise layer (CostOf).
type Coster interface {
	Cost(in []tensor.Shape, out tensor.Shape) Cost
}

// CostOf returns the inference Cost of a built layer: its own if it is a
// Coster, the built-in layers' from their geometry, and otherwise that of
// an element-wise layer, which reads every input value and writes its
// output once, keeping the output (float32).
func CostOf(l Layer, in []tensor.Shape, out tensor.Shape) Cost {
	if c, ok := l.(Coster); ok {
		return c.Cost(in, out)
	}
	outV := values(out)
	switch l := l.(type) {
	case *Conv2D:
		return convCost(l.geom, l.Filters, outV)
	case *DepthwiseConv2D:
		g := l.geom
		return Cost{Work: bounds.SatMul(taps(g), int64(g.C), int64(g.Multiplier())), Bytes: bounds.SatMul(4, outV)}
	case *SeparableConv2D:
		if l.dw == nil || l.pw == nil || len(in) != 1 {
			break
		}
		g := l.dw.geom
		mid := tensor.Shape{g.OH, g.OW, g.C}
		d, p := CostOf(l.dw, in, mid), CostOf(l.pw, []tensor.Shape{mid}, out)
		return Cost{Work: bounds.SatAdd(d.Work, p.Work), Bytes: bounds.SatAdd(d.Bytes, p.Bytes), Fixed: bounds.SatAdd(d.Fixed, p.Fixed),
			Scratch: append(d.Scratch, p.Scratch...)}
	case *Dense:
		return Cost{Work: bounds.SatAdd(bounds.SatMul(int64(l.in), outV), outV), Bytes: bounds.SatMul(4, outV)}
	case *MaxPooling2D:
		// The winning cell of each output (int32) besides the output.
		return Cost{Work: bounds.SatMul(taps(l.geom), int64(l.geom.C)), Bytes: bounds.SatMul(8, outV)}
	case *AveragePooling2D:
		return Cost{Work: bounds.SatMul(taps(l.geom), int64(l.geom.C)), Bytes: bounds.SatMul(4, outV)}
	case *GlobalMaxPooling2D:
		return Cost{Work: sumValues(in), Bytes: bounds.SatMul(8, outV)}
	case *Flatten, *Reshape:
		return Cost{} // views of their input
	}
	return Cost{Work: bounds.SatAdd(sumValues(in), outV), Bytes: bounds.SatMul(4, outV)}
}

// convCost is a Conv2D's cost for geometry g and f filters: the im2col
// rows (unless the window is pointwise), the multiply-adds and the bias;
// the output; and the im2col buffers Forward keeps in inference (see
// chunkImages and groupImages). The chunked path packs up to
// convChunkFloats (or one image's rows if more) at a time; where the
// per-group path can run (at least convGroupMinRows output pixels), it
// runs for every batch of two groups or more, so the chunked path packs
// fewer than two groups' images, at most twice convGroupFloats or two
// images' rows; and the per-group path, from a batch of 2, keeps one
// buffer per thread of a group's images, up to convGroupFloats or one
// image's rows.
func convCost(g ops.Geom, f int, outV int64) Cost {
	P, K := int64(g.OutPixels()), int64(g.ColCols())
	macs := bounds.SatMul(P, K/int64(g.Groups()), int64(f))
	c := Cost{Work: bounds.SatAdd(macs, outV), Bytes: bounds.SatMul(4, outV)}
	if g.IsPointwise() {
		return c
	}
	pk := bounds.SatMul(P, K)
	c.Work = bounds.SatAdd(c.Work, pk)
	chunk := max(int64(convChunkFloats), pk)
	if P >= convGroupMinRows && convGroupFloats > 0 {
		group := max(int64(convGroupFloats), pk)
		chunk = min(chunk, bounds.SatMul(2, group))
		c.Scratch = append(c.Scratch, Scratch{PerSample: bounds.SatMul(4, pk), Cap: bounds.SatMul(4, int64(kernels.Threads()), group), From: 2})
	}
	c.Scratch = append(c.Scratch, Scratch{PerSample: bounds.SatMul(4, pk), Cap: bounds.SatMul(4, chunk)})
	return c
}

// taps is the window taps a pass over one image visits, channels left
// out: every output pixel's whole window, the cells in the padding
// included (the loops skip them one by one).
func taps(g ops.Geom) int64 {
	return bounds.SatMul(int64(g.OH), int64(g.OW), int64(g.KH), int64(g.KW))
}

// values is the number of values of a per-sample shape, saturating.
func values(s tensor.Shape) int64 {
	v := int64(1)
	for _, d := range s {
		v = bounds.SatMul(v, int64(d))
	}
	return v
}

// sumValues is the values of all the shapes, saturating.
func sumValues(ss []tensor.Shape) int64 {
	var v int64
	for _, s := range ss {
		v = bounds.SatAdd(v, values(s))
	}
	return v
}
