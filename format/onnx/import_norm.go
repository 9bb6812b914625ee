package onnx

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
)

// batchNorm imports BatchNormalization in inference mode, y = scale * (x -
// mean) / sqrt(var + epsilon) + B over the channels (axis 1), as a goqat
// BatchNormalization: scale, B, mean and var are constant inputs 1-4 of C
// values each; epsilon and momentum carry over. Supported inputs: NCHW
// images, (N, C, 1, 1) and (N, C). Refused: training_mode 1, other input
// shapes (a flattened NCHW tensor, (N, C, L), ...) and parameters that are
// not constants of C values.
func (im *importer) batchNorm(n *onnxpb.NodeProto) error {
	x, err := im.in(n, 0)
	if err != nil {
		return err
	}
	if intAttr(n, "training_mode", 0) != 0 {
		return errors.New("training_mode 1 is not supported")
	}
	s := x.node.Shape()
	if !(x.lay == nchw || x.lay == nc11 || (x.lay == same && len(s) == 1)) {
		return fmt.Errorf("input of shape %v: only NCHW images and (N, C) inputs are supported", x.shape())
	}
	c := s[len(s)-1]
	var p [4][]float32
	for i := range p {
		if p[i], _, err = im.floats(n, i+1, c); err != nil {
			return err
		}
	}
	l := nn.NewBatchNormalization()
	l.Epsilon = float64(floatAttr(n, "epsilon", 1e-5))
	l.Momentum = float64(floatAttr(n, "momentum", 0.9))
	if _, err := im.call(n, l, x.lay, x.node); err != nil {
		return err
	}
	im.setters = append(im.setters, func() error {
		copy(l.Gamma.Value.Data, p[0])
		copy(l.Beta.Value.Data, p[1])
		copy(l.MovingMean.Value.Data, p[2])
		copy(l.MovingVariance.Value.Data, p[3])
		return nil
	})
	return nil
}
