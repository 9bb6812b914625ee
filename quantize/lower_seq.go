package quantize

import (
	"fmt"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// The 1-D layers on the 2-D integer ops (docs/DESIGN.md, Sequence
// layers): a sequence (T, C) is an image (1, T, C). Conv1D lowers to
// Conv2D with a 1xK kernel (K, C, F) read as (1, K, C, F), stride 1xS,
// dilation 1xD and its padding made explicit; MaxPooling1D to MaxPool2D
// 1xK; GlobalAveragePooling1D to GlobalAveragePool. The tensors between
// layers keep the QAT model's shapes (T, C): a Reshape op (a copy) views
// the input as (1, T, C) and the op's (1, OT, F) result as (OT, F).

// asImage returns a tensor holding sequence tensor x, (T, C), as an image
// (1, T, C): the output of a Reshape op appended to the model (x itself
// if it is not of rank 2). name names the new tensor and op.
func asImage(b Lowering, x int, name string) int {
	t := b.Tensor(x)
	if len(t.Shape) != 2 {
		return x
	}
	t.Name = name + "/image"
	t.Shape = tensor.Shape{1, t.Shape[0], t.Shape[1]}
	y := b.AddTensor(t)
	b.AddOp(lite.Op{Type: lite.OpReshape, Name: t.Name, Inputs: []int{x}, Output: y})
	return y
}

// imageOut returns a new tensor that holds the (1, T, C) result of the op
// whose output is sequence tensor out, (T, C), before restoreSeq copies
// it to out (out itself if it is not of rank 2).
func imageOut(b Lowering, out int) int {
	t := b.Tensor(out)
	if len(t.Shape) != 2 {
		return out
	}
	t.Name += "/image_out"
	t.Shape = tensor.Shape{1, t.Shape[0], t.Shape[1]}
	return b.AddTensor(t)
}

// restoreSeq appends the Reshape op that copies image img (1, T, C) to
// sequence tensor out (T, C); nothing if img is out.
func restoreSeq(b Lowering, img, out int) {
	if img == out {
		return
	}
	b.AddOp(lite.Op{Type: lite.OpReshape, Name: b.Tensor(out).Name + "/sequence", Inputs: []int{img}, Output: out})
}

// pads1D returns the explicit padding before and after a sequence of t
// steps of a window of k taps d apart with stride s, as nn.Conv1D and
// nn.MaxPooling1D pad: none for "valid", TensorFlow's split (the extra
// cell at the end) for "same", all before the sequence for "causal".
func pads1D(t, k, s, d int, padding string) (before, after int) {
	span := (k-1)*d + 1
	switch padding {
	case "same":
		ot := (t + s - 1) / s
		total := max((ot-1)*s+span-t, 0)
		return total / 2, total - total/2
	case "causal":
		return span - 1, 0
	}
	return 0, 0
}

// conv1DOp fills in the Conv2D op of Conv1D v on input tensor x (T, C):
// it makes x an image (asImage) and sets the op's input and geometry.
func conv1DOp(b Lowering, v *nn.Conv1D, x int, op *lite.Op) error {
	in := b.Tensor(x).Shape
	if len(in) != 2 {
		return fmt.Errorf("Conv1D on a %v input: want a sequence (T, C)", in)
	}
	op.Inputs = []int{asImage(b, x, op.Name)}
	s := v.Kernel.Value.Shape // (K, C, F)
	op.Type = lite.OpConv2D
	op.WeightShape = tensor.Shape{1, s[0], s[1], s[2]}
	op.Kernel, op.Strides = [2]int{1, v.KernelSize}, [2]int{1, v.Strides}
	op.Dilation = opDilation([2]int{1, v.DilationRate})
	l, r := pads1D(in[0], v.KernelSize, v.Strides, v.DilationRate, v.Padding)
	op.Pad = [4]int{0, 0, l, r}
	return nil
}

// lowerPool1D fills in the MaxPool2D op of MaxPooling1D l on a (1, T, C)
// input (the keepScale row's lower).
func lowerPool1D(l nn.Layer, in tensor.Shape, op *lite.Op) {
	v := l.(*nn.MaxPooling1D)
	op.Type, op.Kernel, op.Strides = lite.OpMaxPool, [2]int{1, v.PoolSize}, [2]int{1, v.Strides}
	a, z := pads1D(in[1], v.PoolSize, v.Strides, 1, v.Padding)
	op.Pad = [4]int{0, 0, a, z}
}
