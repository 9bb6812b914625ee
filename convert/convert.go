// Package convert turns a trained QAT model (package quantize) into an
// integer-only model (package lite) and checks how the two compare (the
// quantization debugger, accuracy and top-1 agreement).
//
// Conversion walks the QAT model once, in its topological order. Each
// layer states its own integer form (quantize.Lowerer: the QAT layers say
// which int8 ops compute them; the layers that keep their input's scale are
// one table in package quantize); the converter only keeps the books: which
// integer tensor holds each layer's output, the model's inputs and outputs
// and the fused activations. The QAT model is not changed.
//
// The integer model computes what the QAT model computes in inference
// mode, bit for bit (docs/DESIGN.md, Numerics; the agreement tests pin it).
package convert

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// Option configures Convert.
type Option func(*options)

type options struct {
	fullInteger bool
	rounding    lite.Rounding
}

// FullInteger makes the model's inputs and outputs int8 (with the input
// quantizer's and the last layer's scale and zero point) instead of float
// with Quantize and Dequantize at the edges.
func FullInteger() Option { return func(o *options) { o.fullInteger = true } }

// Rounding sets the integer model's rounding mode (lite.Model.Rounding):
// lite.RoundingTFLite makes goqat's interpreter compute the codes TFLite's
// runtime computes on the model's .tflite export (docs/tflite.md); the
// default, lite.RoundingGoqat, computes the QAT model's codes. The scales,
// zero points, weights and biases do not depend on it.
func Rounding(r lite.Rounding) Option { return func(o *options) { o.rounding = r } }

// Convert turns a QAT model (made by quantize.Model, or loaded with nn.Load,
// and trained) into an integer model. Weights are taken as the QAT model
// uses them in inference mode (folded BN with the moving statistics, the
// weight quantizers' ranges), every scale and zero point comes from the
// quantizers (computed by qmath.Params), and the integer model computes
// what the QAT model computes. The QAT model is left unchanged. A layer
// that cannot be converted is an error naming it.
func Convert(qat *nn.Model, opts ...Option) (*lite.Model, error) {
	if qat == nil {
		return nil, errors.New("convert: nil model")
	}
	b := &builder{qat: qat, m: &lite.Model{Name: qat.Name()}, tensor: map[string]int{}, fused: map[string]bool{}}
	for _, o := range opts {
		o(&b.o)
	}
	b.m.Rounding = b.o.rounding
	for i, name := range qat.InputNames() {
		idx := b.AddTensor(lite.Tensor{Name: name, Shape: qat.Inputs()[i].Clone(), DType: lite.Float32})
		b.tensor[name] = idx
		b.m.Inputs = append(b.m.Inputs, idx)
	}
	for _, l := range qat.Layers() {
		if b.fused[l.Name()] {
			continue
		}
		b.layer = l
		if err := quantize.Lower(l, b); err != nil {
			return nil, fmt.Errorf("convert: layer %q (%s): %w", l.Name(), describe(l), err)
		}
	}
	for _, name := range qat.OutputNames() {
		idx, ok := b.tensor[name]
		if !ok {
			return nil, fmt.Errorf("convert: model output %q was not converted", name)
		}
		t := b.m.Tensors[idx]
		if t.DType == lite.Int8 && !b.o.fullInteger {
			out := b.AddTensor(lite.Tensor{Name: name + "/dequantize", Shape: t.Shape.Clone(), DType: lite.Float32})
			b.AddOp(lite.Op{Type: lite.OpDequantize, Name: name + "/dequantize", Inputs: []int{idx}, Output: out})
			idx = out
		}
		if b.m.Tensors[idx].DType == lite.Float32 && b.o.fullInteger {
			return nil, fmt.Errorf("convert: model output %q is not quantized; FullInteger needs int8 outputs", name)
		}
		b.m.Outputs = append(b.m.Outputs, idx)
	}
	if err := b.m.Validate(); err != nil {
		return nil, err
	}
	b.m.FoldPads() // ZeroPadding2D before a convolution: the convolution pads itself
	if err := b.m.Validate(); err != nil {
		return nil, fmt.Errorf("convert: after folding the pads: %w", err)
	}
	return b.m, nil
}

// describe names a layer's type, with the wrapped type for wrappers.
func describe(l nn.Layer) string {
	switch w := l.(type) {
	case *quantize.QuantizeWrapper:
		return "QuantizeWrapper(" + w.Layer.Type() + ")"
	case *quantize.FoldedConvBN:
		return "FoldedConvBN(" + w.Conv().Type() + ")"
	}
	return l.Type()
}
