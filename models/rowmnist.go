package models

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// rowSequence checks an image input (H, W, C) or a sequence input (T, F)
// and returns the layers that make it a sequence of H steps of W*C
// features: a Reshape for an image, nothing for a sequence.
func rowSequence(in tensor.Shape) ([]nn.Layer, error) {
	switch {
	case len(in) == 3 && in[0] >= 1 && in[1] >= 1 && in[2] >= 1:
		return []nn.Layer{nn.NewReshape(in[0], in[1]*in[2])}, nil
	case len(in) == 2 && in[0] >= 1 && in[1] >= 1:
		return nil, nil
	}
	return nil, fmt.Errorf("the input must be an image (H, W, C), read as H steps of W*C features, or a sequence (T, F), got %v", in)
}

// LSTMRowMNIST is lstm-rowmnist: each image read row by row, a sequence of
// H steps of W*C features (28 steps of 28 for MNIST), through one LSTM:
//
//	Reshape (H, W*C)            (only for an image input)
//	LSTM 128 (last step)
//	Dense classes (logits)
//
// On a 28x28x1 input it has 81,674 parameters (LSTM 80,384, Dense 1,290).
func LSTMRowMNIST(in tensor.Shape, classes int) (*nn.Model, error) {
	layers, err := rowSequence(in)
	if err != nil {
		return nil, err
	}
	if classes < 1 {
		return nil, fmt.Errorf("%d classes: want at least 1", classes)
	}
	layers = append(layers, nn.NewLSTM(128), nn.NewDense(classes))
	m, err := nn.NewSequential(in, layers...)
	if err != nil {
		return nil, err
	}
	m.SetName("lstm_rowmnist")
	return m, nil
}

// Conv1DRowMNIST is conv1d-rowmnist: each image read row by row, as
// lstm-rowmnist, through a stack of 1-D convolutions:
//
//	Reshape (H, W*C)            (only for an image input)
//	Conv1D 64 k3 same, ReLU
//	Conv1D 64 k3 same, ReLU
//	MaxPooling1D 2
//	Conv1D 128 k3 same, ReLU
//	GlobalAveragePooling1D
//	Dense classes (logits)
//
// On a 28x28x1 input it has 43,786 parameters.
func Conv1DRowMNIST(in tensor.Shape, classes int) (*nn.Model, error) {
	layers, err := rowSequence(in)
	if err != nil {
		return nil, err
	}
	if classes < 1 {
		return nil, fmt.Errorf("%d classes: want at least 1", classes)
	}
	conv := func(filters int) *nn.Conv1D {
		c := nn.NewConv1D(filters, 3)
		c.Padding = "same"
		return c
	}
	layers = append(layers,
		conv(64), nn.NewReLU(),
		conv(64), nn.NewReLU(),
		nn.NewMaxPooling1D(2),
		conv(128), nn.NewReLU(),
		nn.NewGlobalAveragePooling1D(),
		nn.NewDense(classes))
	m, err := nn.NewSequential(in, layers...)
	if err != nil {
		return nil, err
	}
	m.SetName("conv1d_rowmnist")
	return m, nil
}
