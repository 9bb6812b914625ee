package quantize

import (
	"sort"

	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// scaleRule is one row of keepScale: a layer type whose output carries its
// input's scale and zero point.
type scaleRule struct {
	// lower fills in the integer op of the layer (Type and attributes)
	// given the input tensor's shape; nil for identities (Dropout), whose
	// output is their input's tensor.
	lower func(l nn.Layer, in tensor.Shape, op *lite.Op)
	// averages returns how many input values each output averages (1 for
	// layers that only move values), false if the integer engine's
	// rounding of the average cannot be re-derived (a padded average pool,
	// whose windows vary).
	averages func(l nn.Layer, in tensor.Shape) (int, bool)
	// seq is true for the 1-D layers, whose op reads the sequence (T, C)
	// as an image (1, T, C) (lower_seq.go).
	seq bool
}

// keepScale is THE table of the layers that keep their input's scale and
// zero point (docs/DESIGN.md, Numerics): Model puts no fake quant after
// them (registry), Link looks through them for the quantizer whose codes a
// layer reads (sourceOf), and Lower converts them to integer ops that
// neither rescale nor requantize. A new layer of this kind is one row here.
var keepScale = map[string]scaleRule{
	"MaxPooling2D": {lower: func(l nn.Layer, in tensor.Shape, op *lite.Op) {
		v := l.(*nn.MaxPooling2D)
		op.Type, op.Kernel, op.Strides = lite.OpMaxPool, v.PoolSize, v.Strides
		op.Pad = pads(in, v.PoolSize, v.Strides, v.Padding)
	}, averages: moves},
	"AveragePooling2D": {lower: func(l nn.Layer, in tensor.Shape, op *lite.Op) {
		v := l.(*nn.AveragePooling2D)
		op.Type, op.Kernel, op.Strides = lite.OpAveragePool, v.PoolSize, v.Strides
		op.Pad = pads(in, v.PoolSize, v.Strides, v.Padding)
	}, averages: func(l nn.Layer, _ tensor.Shape) (int, bool) {
		v := l.(*nn.AveragePooling2D)
		return v.PoolSize[0] * v.PoolSize[1], v.Padding != "same"
	}},
	"GlobalAveragePooling2D": {lower: func(_ nn.Layer, _ tensor.Shape, op *lite.Op) {
		op.Type = lite.OpGlobalAveragePool
	}, averages: func(_ nn.Layer, in tensor.Shape) (int, bool) {
		if len(in) != 3 {
			return 0, false
		}
		return in[0] * in[1], true
	}},
	"GlobalMaxPooling2D": {lower: func(_ nn.Layer, _ tensor.Shape, op *lite.Op) {
		op.Type = lite.OpGlobalMaxPool
	}, averages: moves},
	"Flatten": {lower: reshape, averages: moves},
	"Reshape": {lower: reshape, averages: moves},
	"ZeroPadding2D": {lower: func(l nn.Layer, _ tensor.Shape, op *lite.Op) {
		op.Type, op.Pad = lite.OpPad, l.(*nn.ZeroPadding2D).Padding
	}, averages: moves},
	"Dropout":      {averages: moves},
	"MaxPooling1D": {lower: lowerPool1D, averages: moves, seq: true},
	"GlobalAveragePooling1D": {lower: func(_ nn.Layer, _ tensor.Shape, op *lite.Op) {
		op.Type = lite.OpGlobalAveragePool
	}, averages: func(_ nn.Layer, in tensor.Shape) (int, bool) {
		if len(in) != 2 {
			return 0, false
		}
		return in[0], true
	}, seq: true},
	"Slice": {lower: func(l nn.Layer, in tensor.Shape, op *lite.Op) {
		v := l.(*nn.Slice)
		op.Type, op.AxisFromEnd, op.Begin, op.End, op.Step = lite.OpSlice, len(in)-1-v.SampleAxis(), v.Begin, v.End, v.Step
	}, averages: moves},
}

// moves is the averages rule of layers that only move or select values.
func moves(nn.Layer, tensor.Shape) (int, bool) { return 1, true }

// reshape is the lower rule of Flatten and Reshape.
func reshape(_ nn.Layer, _ tensor.Shape, op *lite.Op) { op.Type = lite.OpReshape }

// KeepsScale reports whether layers of the given type keep their input's
// scale and zero point (pools, Flatten, Reshape, ZeroPadding2D, Dropout,
// Slice):
// quantize.Model puts no fake quant after them and the integer model
// computes them without requantizing.
func KeepsScale(layerType string) bool {
	_, ok := keepScale[layerType]
	return ok
}

// scaleKeepers returns the sorted types of keepScale.
func scaleKeepers() []string {
	var out []string
	for t := range keepScale {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// pads returns the explicit padding (top, bottom, left, right) of a Keras
// padding mode on an (H, W, C) input.
func pads(in tensor.Shape, k, s [2]int, mode string) [4]int {
	if mode != "same" {
		return [4]int{}
	}
	t, b := ops.SamePadding(in[0], k[0], s[0])
	l, r := ops.SamePadding(in[1], k[1], s[1])
	return [4]int{t, b, l, r}
}
