package convert

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// builder is the state of one conversion and the quantize.Lowering that
// the layers lower through: the integer model so far, the integer tensor
// holding each converted layer's (or input's) output, and the layers fused
// into the op before them.
type builder struct {
	qat    *nn.Model
	m      *lite.Model
	o      options
	layer  nn.Layer       // the layer being lowered
	tensor map[string]int // QAT layer or input name -> tensor of its output
	fused  map[string]bool
}

var _ quantize.Lowering = (*builder)(nil)

func (b *builder) Model() *nn.Model { return b.qat }

func (b *builder) FullInteger() bool { return b.o.fullInteger }

func (b *builder) Tensor(idx int) lite.Tensor {
	t := b.m.Tensors[idx]
	t.Shape = t.Shape.Clone()
	return t
}

func (b *builder) SetTensor(idx int, t lite.Tensor) { b.m.Tensors[idx] = t }

func (b *builder) AddTensor(t lite.Tensor) int {
	b.m.Tensors = append(b.m.Tensors, t)
	return len(b.m.Tensors) - 1
}

func (b *builder) AddOp(op lite.Op) { b.m.Ops = append(b.m.Ops, op) }

func (b *builder) Alias(idx int) { b.tensor[b.layer.Name()] = idx }

// inbound returns the tensor of the current layer's i-th input.
func (b *builder) inbound(i int) (string, int, error) {
	in := b.qat.Inbound(b.layer.Name())
	if i >= len(in) {
		return "", 0, fmt.Errorf("has %d inputs", len(in))
	}
	idx, ok := b.tensor[in[i]]
	if !ok {
		return "", 0, fmt.Errorf("input %q was not converted", in[i])
	}
	return in[i], idx, nil
}

func (b *builder) Input(i int) (int, error) {
	name, idx, err := b.inbound(i)
	if err != nil {
		return 0, err
	}
	if b.m.Tensors[idx].DType != lite.Int8 {
		return 0, fmt.Errorf("input %q is not quantized (insert fake quantization before it with quantize.Model)", name)
	}
	return idx, nil
}

func (b *builder) FloatInput(i int) (int, error) {
	if n := len(b.qat.Inbound(b.layer.Name())); n != 1 {
		return 0, fmt.Errorf("want one input, have %d", n)
	}
	_, idx, err := b.inbound(i)
	if err != nil || b.m.Tensors[idx].DType != lite.Float32 {
		return 0, errors.New("QuantizeInput must follow a model input")
	}
	return idx, nil
}

func (b *builder) Output(q quantize.Quantizer) (idx int, act string, err error) {
	name := b.layer.Name()
	if q == nil {
		var cons []nn.Layer
		for _, x := range b.qat.Layers() {
			for _, in := range b.qat.Inbound(x.Name()) {
				if in == name {
					cons = append(cons, x)
				}
			}
		}
		if len(cons) != 1 {
			return 0, "", errors.New("output is not quantized and not followed by one quantized activation")
		}
		f, ok := cons[0].(quantize.FusedActivation)
		if !ok {
			return 0, "", fmt.Errorf("output is not quantized and its consumer %q is not a quantized activation", cons[0].Name())
		}
		a, fq, ok := f.Fused()
		if fq == nil {
			return 0, "", fmt.Errorf("output is not quantized and its consumer %q is not a quantized activation", cons[0].Name())
		}
		if !ok {
			return 0, "", fmt.Errorf("output is not quantized and its consumer %q (%s) cannot be fused", cons[0].Name(), describe(cons[0]))
		}
		b.fused[cons[0].Name()] = true
		name, q, act = cons[0].Name(), fq, a
	}
	t, err := quantize.QuantTensor(name, b.qat.OutputShape(name), q)
	if err != nil {
		return 0, "", err
	}
	idx = b.AddTensor(t)
	b.tensor[name] = idx
	b.tensor[b.layer.Name()] = idx
	return idx, act, nil
}
