package onnx

import (
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// add imports Add of two computed tensors of the same shape and layout as
// a goqat Add. Refused: broadcasting, a constant operand (except the bias
// right after a MatMul, which dense folds in and skips), flattened NCHW
// tensors and other than two inputs.
func (im *importer) add(n *onnxpb.NodeProto) error {
	if len(n.GetInput()) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(n.GetInput()))
	}
	a, err := im.in(n, 0)
	if err != nil {
		return fmt.Errorf("%w (adding a constant is supported only as the bias right after a MatMul)", err)
	}
	b, err := im.in(n, 1)
	if err != nil {
		return fmt.Errorf("%w (adding a constant is supported only as the bias right after a MatMul)", err)
	}
	if a.lay != b.lay || a.lay == chwFlat || !a.node.Shape().Equal(b.node.Shape()) {
		return fmt.Errorf("inputs of shapes %v and %v: only inputs of the same shape are supported (no broadcasting)", a.shape(), b.shape())
	}
	v, err := im.call(n, nn.NewAdd(), a.lay, a.node, b.node)
	if err == nil {
		v.nonNeg = a.nonNeg && b.nonNeg
	}
	return err
}
