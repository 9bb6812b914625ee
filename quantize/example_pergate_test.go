package quantize_test

import (
	"context"
	"fmt"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// Quantize an LSTM with one weight scale per gate matrix (NBit.PerGate),
// the granularity TFLite's integer LSTM takes, so that the converted model
// exports with format/tflite; the Dense layer keeps per-channel weights.
func ExampleNBit_perGate() {
	float, err := nn.NewSequential(tensor.Shape{5, 3},
		&nn.LSTM{RecurrentOptions: nn.RecurrentOptions{Units: 4, UseBias: true}}, nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	float.InitWeights(1)
	x := tensor.New(8, 5, 3)
	for i := range x.Data {
		x.Data[i] = float32(i%7)/7 - 0.5
	}
	scheme := quantize.Default8Bit
	scheme.PerGate = true
	qat, err := quantize.PTQ(context.Background(), float, x, 8, quantize.WithScheme(scheme))
	if err != nil {
		panic(err)
	}
	l := qat.Layer("lstm").(*quantize.QuantizeLSTM)
	fmt.Println(scheme, "kernel group size", l.Cfg.Kernel.GroupSize)
	op, err := l.IntegerOp(1.0/128, 0)
	if err != nil {
		panic(err)
	}
	_, ok := lite.TFLiteLSTMScales(&op)
	fmt.Println(len(op.WeightScales), "weight scales, one per gate matrix:", ok)
	// Output:
	// w8a8-gate kernel group size 4
	// 32 weight scales, one per gate matrix: true
}
