package onnx

import (
	"errors"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// constantOp imports Constant with a tensor 'value' attribute: the tensor
// becomes a constant that later nodes read like an initializer. Refused:
// the other value attributes (value_float, value_ints, sparse_value, ...)
// and malformed tensors.
func (im *importer) constantOp(n *onnxpb.NodeProto) error {
	a := attr(n, "value")
	if a == nil || a.GetT() == nil {
		return errors.New("only Constant with a tensor 'value' is supported")
	}
	if _, err := checkTensor(a.GetT()); err != nil {
		return err
	}
	im.consts[n.GetOutput()[0]] = a.GetT()
	return nil
}

// identity imports Identity and Dropout (at inference the identity: its
// ratio and training_mode, attributes or inputs, are ignored and its mask
// output is not made) by recording input 0, computed or constant, under
// the node's first output, without a layer.
func (im *importer) identity(n *onnxpb.NodeProto) error {
	out := n.GetOutput()[0]
	if len(n.GetInput()) > 0 {
		if c, isConst := im.consts[n.GetInput()[0]]; isConst {
			im.consts[out] = c
			if dep, ok := im.batchDep[n.GetInput()[0]]; ok {
				im.batchDep[out] = dep
			}
			return nil
		}
	}
	x, err := im.view(n, 0)
	if err != nil {
		return err
	}
	im.vals[out] = x
	return nil
}
