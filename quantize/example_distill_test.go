package quantize_test

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// FineTuneDistill is FineTune with a teacher: the QAT student (here with
// 2-bit weights) fine-tunes against the float model's temperature-softened
// logits as well as the labels, alpha * T^2 KL(teacher || student) +
// (1 - alpha) * cross-entropy. The teacher, by default the float model the
// student was quantized from, runs in inference mode and is not changed.
func ExampleFineTuneDistill() {
	x, y := brightHalf(256, 1)
	testX, testY := brightHalf(64, 2)
	conv := nn.NewConv2D(4, 3, 3)
	conv.UseBias = false
	float, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	loss := nn.SparseCategoricalCrossentropy{FromLogits: true}
	if err := float.Compile(nn.CompileOptions{Loss: loss, Optimizer: optim.NewAdam(1e-2)}); err != nil {
		panic(err)
	}
	if _, err := float.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		panic(err)
	}

	r, err := quantize.FineTuneDistill(context.Background(), float, x, y, quantize.FineTuneOptions{
		Scheme:        quantize.NBit{WeightBits: 2, ActivationBits: 8, PerAxis: true},
		Calibrate:     128,
		Epochs:        2,
		BatchSize:     32,
		LearningRate:  1e-3,
		FreezeBNAfter: quantize.FreezeBNHalfway,
		Seed:          1,
		Verbose:       nn.VerboseSilent,
		ValidationX:   testX,
		ValidationY:   testY,
	}, quantize.Distillation{Alpha: 0.5, Temperature: 4}) // Teacher nil: the float model
	if err != nil {
		panic(err)
	}
	h := r.History
	fmt.Printf("%d steps, BN frozen from step %d\n", r.Steps, r.FreezeBNAfter)
	fmt.Printf("distillation loss fell: %v\n", h.Loss[1] < h.Loss[0])
	fmt.Printf("W2A8 student's test accuracy %.0f%%\n", 100*h.ValAccuracy[len(h.ValAccuracy)-1])
	// Output:
	// 16 steps, BN frozen from step 8
	// distillation loss fell: true
	// W2A8 student's test accuracy 100%
}
