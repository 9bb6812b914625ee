package lite_test

import (
	"context"
	"fmt"
	"log"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// The whole pipeline on a toy problem: train a float model, fine-tune it
// with QAT, convert it to an integer-only model and run it. The integer
// model picks the same classes as the QAT model it came from.
func ExampleConvert() {
	ctx := context.Background()
	// Two classes: is the first feature larger than the second?
	x, y := tensor.New(512, 4), tensor.New(512)
	for i := 0; i < 512; i++ {
		for j := 0; j < 4; j++ {
			x.Data[i*4+j] = float32((i*7+j*13)%17)/8 - 1
		}
		if x.Data[i*4] > x.Data[i*4+1] {
			y.Data[i] = 1
		}
	}
	m, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(16), nn.NewReLU(), nn.NewDense(2))
	if err != nil {
		log.Fatal(err)
	}
	fit := func(m *nn.Model, lr float64) {
		loss := nn.SparseCategoricalCrossentropy{FromLogits: true}
		if err := m.Compile(nn.CompileOptions{Loss: loss, Optimizer: optim.NewAdam(lr), Metrics: []string{"accuracy"}}); err != nil {
			log.Fatal(err)
		}
		if _, err := m.Fit(ctx, x, y, nn.FitOptions{BatchSize: 32, Epochs: 20, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
			log.Fatal(err)
		}
	}
	fit(m, 1e-2)
	q, err := quantize.Model(m) // 8-bit, per-channel weights
	if err != nil {
		log.Fatal(err)
	}
	fit(q, 1e-3)

	im, err := convert.Convert(q)
	if err != nil {
		log.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		log.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		log.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		log.Fatal(err)
	}
	got := it.Output(0) // (512, 2) dequantized logits
	want, err := q.Predict(ctx, x, 512)
	if err != nil {
		log.Fatal(err)
	}
	same := 0
	for i := 0; i < 512; i++ {
		a := got.Data[2*i+1] > got.Data[2*i]
		b := want.Data[2*i+1] > want.Data[2*i]
		if a == b {
			same++
		}
	}
	fmt.Printf("int8 and QAT agree on %d of 512 inputs\n", same)
	// Output: int8 and QAT agree on 512 of 512 inputs
}
