package convert_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// brightHalf returns n synthetic 8x8 grey images (n, 8, 8, 1) of noise
// with one half brighter, and their labels (n): 0 for the left half, 1
// for the right. Every seed gives other images.
func brightHalf(n int, seed uint64) (x, y *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, seed))
	x, y = tensor.New(n, 8, 8, 1), tensor.New(n)
	for i := range n {
		label := r.IntN(2)
		y.Data[i] = float32(label)
		for p := range 64 {
			v := 0.4 * r.Float32()
			if (p%8 < 4) == (label == 0) {
				v += 0.6
			}
			x.Data[i*64+p] = v
		}
	}
	return x, y
}

// qatModel trains a small Conv+BN classifier on x, y in float and
// fine-tunes it with QAT (quantize.FineTune; epochs 0: calibration only).
func qatModel(x, y *tensor.Tensor, epochs int) *nn.Model {
	conv := nn.NewConv2D(4, 3, 3)
	conv.UseBias = false
	float, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(), nn.NewFlatten(), nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	if err := float.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-2)}); err != nil {
		panic(err)
	}
	if _, err := float.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 32, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		panic(err)
	}
	r, err := quantize.FineTune(context.Background(), float, x, y, quantize.FineTuneOptions{
		Calibrate: 128, Epochs: epochs, BatchSize: 32, FreezeBNAfter: quantize.FreezeBNHalfway, Seed: 1, Verbose: nn.VerboseSilent,
	})
	if err != nil {
		panic(err)
	}
	return r.Model
}

// Accuracy measures a QAT model, here the calibrated (post-training
// quantization) one, through the integer engine.
func ExampleAccuracy() {
	x, y := brightHalf(256, 1)
	testX, testY := brightHalf(64, 2)
	ptq := qatModel(x, y, 0)
	acc, err := convert.Accuracy(context.Background(), ptq, testX, testY, 32)
	if err != nil {
		panic(err)
	}
	fmt.Printf("PTQ test accuracy %.0f%%\n", 100*acc)
	// Output:
	// PTQ test accuracy 100%
}

// Agreement checks a fine-tuned QAT model against its integer model: both
// accuracies, and how often they pick the same class.
func ExampleAgreement() {
	x, y := brightHalf(256, 1)
	testX, testY := brightHalf(64, 2)
	qat := qatModel(x, y, 1)
	im, err := convert.Convert(qat)
	if err != nil {
		panic(err)
	}
	a, err := convert.Agreement(context.Background(), qat, im, testX, testY, convert.AgreementOptions{BatchSize: 32, Verbose: nn.VerboseSilent})
	if err != nil {
		panic(err)
	}
	fmt.Printf("QAT %.0f%%, int8 %.0f%%, same top-1 on %.0f%% of the images\n",
		100*a.QATAccuracy, 100*a.Int8Accuracy, 100*a.Top1Agreement)
	// Output:
	// QAT 100%, int8 100%, same top-1 on 100% of the images
}
