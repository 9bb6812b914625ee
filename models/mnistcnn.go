package models

import (
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// MNISTCNN is mnist-cnn, the reference network of goqat's benchmarks:
//
//	Conv2D 32 3x3 valid (no bias), BatchNormalization, ReLU
//	Conv2D 64 3x3 valid (no bias), BatchNormalization, ReLU
//	MaxPooling2D 2x2
//	Conv2D 64 3x3 valid (no bias), BatchNormalization, ReLU
//	Flatten
//	Dense classes (logits)
//
// On a 28x28x1 input it costs 14,561,920 multiply-adds per image and has
// 119,914 trainable parameters (plus 320 BN moving statistics).
func MNISTCNN(in tensor.Shape, classes int) (*nn.Model, error) {
	m, err := nn.NewSequential(in,
		conv(32, 3, 1, "valid"), nn.NewBatchNormalization(), nn.NewReLU(),
		conv(64, 3, 1, "valid"), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewMaxPooling2D(2, 2),
		conv(64, 3, 1, "valid"), nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(),
		nn.NewDense(classes),
	)
	if err != nil {
		return nil, err
	}
	m.SetName("mnist_cnn")
	return m, nil
}
