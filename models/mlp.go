package models

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// DefaultHidden is the hidden layer widths of mlp when Options.Hidden is
// empty.
var DefaultHidden = []int{64, 64}

// Bounds of MLP's hidden layers.
const (
	maxHiddenLayers = 64
	maxHiddenUnits  = 1 << 16
)

// MLP is mlp, a multi-layer perceptron for tabular data (feature vectors,
// e.g. from a CSV table) or small images:
//
//	Flatten                    (only if the input is not already (F))
//	Dense hidden[0], ReLU
//	...
//	Dense hidden[k-1], ReLU
//	Dense classes (logits)
//
// hidden empty means DefaultHidden. Its input is (F) or any (H,W,C), which
// it flattens.
func MLP(in tensor.Shape, classes int, hidden []int) (*nn.Model, error) {
	if len(in) == 0 || in.Size() < 1 {
		return nil, fmt.Errorf("the input must be a shape with at least one value, got %v", in)
	}
	if classes < 1 {
		return nil, fmt.Errorf("%d classes: want at least 1", classes)
	}
	if len(hidden) == 0 {
		hidden = DefaultHidden
	}
	if len(hidden) > maxHiddenLayers {
		return nil, fmt.Errorf("%d hidden layers: at most %d", len(hidden), maxHiddenLayers)
	}
	var layers []nn.Layer
	if len(in) > 1 {
		layers = append(layers, nn.NewFlatten())
	}
	for _, h := range hidden {
		if h < 1 || h > maxHiddenUnits {
			return nil, fmt.Errorf("hidden layer of %d units: want 1 to %d", h, maxHiddenUnits)
		}
		layers = append(layers, nn.NewDense(h), nn.NewReLU())
	}
	layers = append(layers, nn.NewDense(classes))
	m, err := nn.NewSequential(in, layers...)
	if err != nil {
		return nil, err
	}
	m.SetName("mlp")
	return m, nil
}
