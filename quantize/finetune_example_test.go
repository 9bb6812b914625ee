package quantize_test

import (
	"context"
	"fmt"
	"math/rand/v2"

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

// FineTune quantizes a trained float model, calibrates it, reports the plan
// and fine-tunes it with QAT.
func ExampleFineTune() {
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

	r, err := quantize.FineTune(context.Background(), float, x, y, quantize.FineTuneOptions{
		Scheme:        quantize.Default8Bit,
		Calibrate:     128,
		Epochs:        2,
		BatchSize:     32,
		LearningRate:  1e-3,
		FreezeBNAfter: quantize.FreezeBNHalfway,
		Seed:          1,
		Verbose:       nn.VerboseSilent,
		ValidationX:   testX,
		ValidationY:   testY,
		OnCalibrated: func(r *quantize.FineTuneResult) error {
			fmt.Printf("calibrated on %d images; %d steps, BN frozen from step %d\n",
				r.CalibrationSamples, r.Steps, r.FreezeBNAfter)
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	h := r.History
	fmt.Println("QAT model:", quantize.IsQAT(r.Model), "- float model untouched:", !quantize.IsQAT(float))
	fmt.Printf("%d epochs, test accuracy %.0f%%\n", len(h.Loss), 100*h.ValAccuracy[len(h.ValAccuracy)-1])
	// Output:
	// calibrated on 128 images; 16 steps, BN frozen from step 8
	// QAT model: true - float model untouched: true
	// 2 epochs, test accuracy 100%
}
