package quantize

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
)

// Lowering is what a converter offers a layer while it states the layer's
// integer form: the integer tensors of the layer's inputs, new tensors for
// its output, and the ops it appends to the integer model. Package convert
// implements it; a layer implements Lowerer to use it.
type Lowering interface {
	// Model returns the QAT model being converted (read only).
	Model() *nn.Model
	// Input returns the int8 tensor of the layer's i-th input (an error if
	// the input is float: a quantizer is missing before the layer).
	Input(i int) (int, error)
	// FloatInput returns the float tensor of the layer's i-th input, which
	// must be a model input (for QuantizeInput).
	FloatInput(i int) (int, error)
	// Tensor returns a tensor of the integer model (a copy).
	Tensor(idx int) lite.Tensor
	// SetTensor replaces tensor idx (FullInteger turns a float model input
	// into an int8 one).
	SetTensor(idx int, t lite.Tensor)
	// AddTensor appends a tensor and returns its index.
	AddTensor(t lite.Tensor) int
	// Output makes the int8 output tensor of the layer, quantized by q, and
	// records it as the layer's output. With q nil, the layer's one
	// consumer must be a quantized activation that the op fuses (ReLU,
	// ReLU6, see FusedActivation): Output then returns that activation's
	// name ("relu", "relu6"), and the consumer's output is this tensor.
	Output(q Quantizer) (idx int, act string, err error)
	// Alias records tensor idx as the layer's output (identities).
	Alias(idx int)
	// AddOp appends an op to the integer model.
	AddOp(op lite.Op)
	// FullInteger reports whether the model's inputs and outputs become
	// int8 (convert.FullInteger).
	FullInteger() bool
}

// Lowerer is a layer that states its own integer form: Lower appends the
// ops that compute, on int8 tensors, what the layer computes in inference
// mode. QuantizeInput, QuantizeWrapper and FoldedConvBN implement it; a
// custom QAT layer can too.
type Lowerer interface {
	Lower(b Lowering) error
}

// FusedActivation is a layer that an op before it can fuse as a clamp (a
// quantized ReLU or ReLU6): Fused returns the activation's name and its
// output quantizer, ok false if the layer cannot be fused.
type FusedActivation interface {
	Fused() (act string, q Quantizer, ok bool)
}

// Lower states the integer form of one layer of a QAT model: through its
// Lower method if it has one, else through the keepScale table (pools,
// Flatten, Reshape, Slice, ZeroPadding2D, Dropout). Other layers are an error
// that lists what converts.
func Lower(l nn.Layer, b Lowering) error {
	if lw, ok := l.(Lowerer); ok {
		return lw.Lower(b)
	}
	if r, ok := keepScale[l.Type()]; ok {
		return lowerKeepScale(l, r, b)
	}
	return fmt.Errorf("layer type %s is not supported by the integer engine (supported: QuantizeInput, FoldedConvBN, "+
		"QuantizeWrapper of Conv2D, DepthwiseConv2D, Dense, Conv1D, Add, Concatenate, Multiply, ReLU, ReLU6, Activation; %s)",
		l.Type(), strings.Join(scaleKeepers(), ", "))
}

// lowerKeepScale converts a layer of keepScale: an op whose output tensor
// has the input's scale and zero point, or an alias for identities.
func lowerKeepScale(l nn.Layer, r scaleRule, b Lowering) error {
	x, err := b.Input(0)
	if err != nil {
		return err
	}
	if r.lower == nil {
		b.Alias(x)
		return nil
	}
	if r.seq {
		x = asImage(b, x, l.Name()) // (T, C) read as (1, T, C): lower_seq.go
	}
	t := b.Tensor(x)
	op := lite.Op{Name: l.Name(), Inputs: []int{x}}
	r.lower(l, t.Shape, &op)
	t.Name = l.Name()
	t.Shape = b.Model().OutputShape(l.Name()).Clone()
	out := b.AddTensor(t)
	b.Alias(out)
	op.Output = out
	if r.seq {
		op.Output = imageOut(b, out) // (1, OT, C) copied to out (OT, C)
	}
	b.AddOp(op)
	restoreSeq(b, op.Output, out)
	return nil
}

// Lower converts the input quantizer: a Quantize op from the float model
// input, or with FullInteger the model input itself made int8.
func (l *QuantizeInput) Lower(b Lowering) error {
	src, err := b.FloatInput(0)
	if err != nil {
		return err
	}
	if b.FullInteger() {
		t, err := QuantTensor(b.Tensor(src).Name, b.Tensor(src).Shape, l.q)
		if err != nil {
			return err
		}
		b.SetTensor(src, t)
		b.Alias(src)
		return nil
	}
	out, _, err := b.Output(l.q)
	if err != nil {
		return err
	}
	b.AddOp(lite.Op{Type: lite.OpQuantize, Name: l.Name(), Inputs: []int{src}, Output: out})
	return nil
}

// QuantTensor returns the int8 tensor that holds the output of per-tensor
// quantizer q (its scale, zero point and bits), named name with the given
// per-sample shape; an error for a per-axis quantizer.
func QuantTensor(name string, shape []int, q Quantizer) (lite.Tensor, error) {
	s, zp := q.Scales()
	if len(s) != 1 {
		return lite.Tensor{}, fmt.Errorf("per-axis activation quantizer (%d scales): the integer engine needs per-tensor activations", len(s))
	}
	return lite.Tensor{Name: name, Shape: append([]int(nil), shape...), DType: lite.Int8, Scale: s[0], ZeroPoint: zp[0], Bits: q.Spec().Bits}, nil
}

// Lower converts a folded Conv2D/DepthwiseConv2D/Dense + BatchNormalization
// (+ activation): the folded kernel as the inference mode quantizes it,
// the folded bias, the fused activation.
func (l *FoldedConvBN) Lower(b Lowering) error {
	if l.WeightQuant() == nil {
		return errors.New("the kernel is not quantized")
	}
	_, bias := l.Folded()
	return lowerWeighted(b, l.Name(), l.Conv(), l.FakeQuantKernel(), bias, l.WeightQuant(), l.OutputQuant(), l.Activation())
}

// Fused reports a quantized ReLU, ReLU6 or relu/relu6 Activation, which
// the op before it fuses.
func (w *QuantizeWrapper) Fused() (act string, q Quantizer, ok bool) {
	if w.OutputQuant() == nil {
		return "", nil, false
	}
	switch a := w.Layer.(type) {
	case *nn.ReLU:
		act = "relu"
	case *nn.ReLU6:
		act = "relu6"
	case *nn.Activation:
		if a.Func == "relu" || a.Func == "relu6" {
			act = a.Func
		}
	}
	return act, w.OutputQuant(), act != ""
}

// Lower converts the wrapped layer: Conv2D, DepthwiseConv2D, Dense and
// Conv1D (lower_seq.go) with
// their fake-quantized weights, Add, Concatenate, Multiply (of two
// inputs), the fixed-range activations (softmax, sigmoid, tanh), the table
// activations (hard_sigmoid, hard_swish, silu) and identities; ReLU and
// ReLU6 are fused into the op before them.
func (w *QuantizeWrapper) Lower(b Lowering) error {
	switch inner := w.Layer.(type) {
	case *nn.Conv2D, *nn.DepthwiseConv2D, *nn.Dense, *nn.Conv1D:
		kp := w.kernelParam()
		q := w.WeightQuantizer(kp.Name)
		if q == nil {
			return errors.New("the kernel is not quantized")
		}
		fq := kp.Value.Clone()
		q.Forward(&nn.Context{}, kp.Value, fq)
		var bias []float32
		if bp := w.biasParam(); bp != nil {
			bias = bp.Value.Data
		}
		return lowerWeighted(b, w.Name(), inner, fq.Data, bias, q, w.OutputQuant(), "")
	case *nn.Add:
		n := len(b.Model().Inbound(w.Name()))
		if n < 2 || n > 4 {
			return fmt.Errorf("Add of %d inputs: the integer engine adds 2 to 4", n)
		}
		return w.lowerMerge(b, lite.Op{Type: lite.OpAdd}, n)
	case *nn.Concatenate:
		rank := len(b.Model().OutputShape(w.Name()))
		op := lite.Op{Type: lite.OpConcatenation, AxisFromEnd: rank - 1 - inner.SampleAxis()}
		return w.lowerMerge(b, op, len(b.Model().Inbound(w.Name())))
	case *nn.Multiply:
		if n := len(b.Model().Inbound(w.Name())); n != 2 {
			return fmt.Errorf("Multiply of %d inputs: the integer engine multiplies 2", n)
		}
		return w.lowerMerge(b, lite.Op{Type: lite.OpMul}, 2)
	case *nn.Activation:
		var typ lite.OpType
		switch inner.Func {
		case "hard_sigmoid", "hard_swish", "hard_silu", "silu", "swish":
			// A table of any output range, clamped by a fused ReLU/ReLU6.
			return w.lowerMerge(b, lite.Op{Type: tableFuncs[inner.Func].op}, 1)
		case "softmax":
			typ = lite.OpSoftmax
		case "sigmoid":
			typ = lite.OpLogistic
		case "tanh":
			typ = lite.OpTanh
		case "linear":
			if w.OutputQuant() == nil {
				x, err := b.Input(0)
				if err != nil {
					return err
				}
				b.Alias(x)
				return nil
			}
		}
		if typ != "" {
			x, err := b.Input(0)
			if err != nil {
				return err
			}
			if w.OutputQuant() == nil {
				return errors.New("output is not quantized")
			}
			out, _, err := b.Output(w.OutputQuant())
			if err != nil {
				return err
			}
			b.AddOp(lite.Op{Type: typ, Name: w.Name(), Inputs: []int{x}, Output: out})
			return nil
		}
	}
	if r, ok := keepScale[w.Layer.Type()]; ok && w.OutputQuant() == nil && len(w.wq) == 0 {
		return lowerKeepScale(w.Layer, r, b) // the inner layer has the wrapper's name
	}
	return fmt.Errorf("the integer engine has no op for a quantized %s here (ReLU/ReLU6 are fused into the Conv2D, "+
		"DepthwiseConv2D, Dense, Add, Concatenate, Multiply or table activation before them)", w.Layer.Type())
}

// lowerMerge converts Add, Concatenate or Multiply of n inputs, or a table
// activation (n = 1): op (its type and attributes) over their int8
// tensors, requantized to the output quantizer (or, when the output is not
// quantized itself, to the ReLU/ReLU6 after it, fused as the op's clamp).
func (w *QuantizeWrapper) lowerMerge(b Lowering, op lite.Op, n int) error {
	var ins []int
	for i := 0; i < n; i++ {
		x, err := b.Input(i)
		if err != nil {
			return err
		}
		ins = append(ins, x)
	}
	out, act, err := b.Output(w.OutputQuant())
	if err != nil {
		return err
	}
	op.Name, op.Inputs, op.Output, op.Activation = w.Name(), ins, out, act
	b.AddOp(op)
	return nil
}
