package lite_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// An Interpreter runs an integer model: Allocate sizes its buffers for a
// batch once, then SetInput and Invoke run without allocating. Here a
// Functional model whose two convolution branches meet in an Add is
// quantized (ranges calibrated on a few inputs, no fine-tuning: post-training
// quantization), converted and run. Between the Quantize and Dequantize at
// its edges every op is integer-only (the ReLU is fused into the first
// convolution as a clamp), and it picks the QAT model's classes.
func ExampleInterpreter() {
	ctx := context.Background()
	in := nn.Input(8, 8, 1)
	wide := nn.NewConv2D(4, 3, 3)
	wide.Padding = "same"
	a := nn.Call(nn.NewReLU(), nn.Call(wide, in))
	b := nn.Call(nn.NewConv2D(4, 1, 1), in)
	h := nn.Call(nn.NewAdd(), a, b)
	h = nn.Call(nn.NewMaxPooling2D(2, 2), h)
	out := nn.Call(nn.NewDense(3), nn.Call(nn.NewFlatten(), h))
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{out})
	if err != nil {
		log.Fatal(err)
	}
	m.InitWeights(1)

	x := tensor.New(16, 8, 8, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	q, err := quantize.Model(m)
	if err != nil {
		log.Fatal(err)
	}
	if err := quantize.Calibrate(ctx, q, x, 16); err != nil {
		log.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		log.Fatal(err)
	}
	for _, op := range im.Ops {
		line := fmt.Sprint(op.Type, " ", op.Name)
		if op.Activation != "" {
			line += ", fused " + op.Activation
		}
		fmt.Println(line)
	}

	it, err := lite.NewInterpreter(im)
	if err != nil {
		log.Fatal(err)
	}
	if err := it.Allocate(16); err != nil {
		log.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		log.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		log.Fatal(err)
	}
	got := it.Output(0) // dequantized scores, owned by the interpreter
	fmt.Println("output shape", got.Shape)

	want, err := q.Predict(ctx, x, 16)
	if err != nil {
		log.Fatal(err)
	}
	same := 0
	for i := 0; i < 16; i++ {
		if argmax(got.Data[3*i:3*i+3]) == argmax(want.Data[3*i:3*i+3]) {
			same++
		}
	}
	fmt.Printf("same class as the QAT model on %d of 16 inputs\n", same)
	// Output:
	// Quantize quantize_input_1
	// Conv2D conv2d, fused relu
	// Conv2D conv2d_1
	// Add add
	// MaxPool2D max_pooling2d
	// Reshape flatten
	// FullyConnected dense
	// Dequantize dense/dequantize
	// output shape (16, 3)
	// same class as the QAT model on 16 of 16 inputs
}

// argmax returns the index of the first largest value.
func argmax(v []float32) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}

// ProfileOps answers "which layer is slow": each op's median time per
// Invoke, here for a small convolutional network (post-training quantized)
// on a batch of 8. Clone gives another goroutine its own interpreter on
// the same packed weights.
func ExampleInterpreter_ProfileOps() {
	ctx := context.Background()
	m, err := nn.NewSequential(tensor.Shape{16, 16, 1},
		nn.NewConv2D(8, 3, 3), nn.NewReLU(), nn.NewMaxPooling2D(2, 2),
		nn.NewFlatten(), nn.NewDense(4))
	if err != nil {
		log.Fatal(err)
	}
	m.InitWeights(1)
	x := tensor.New(8, 16, 16, 1)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	q, err := quantize.Model(m)
	if err != nil {
		log.Fatal(err)
	}
	if err := quantize.Calibrate(ctx, q, x, 8); err != nil {
		log.Fatal(err)
	}
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
	ops, err := it.ProfileOps(ctx, 20)
	if err != nil {
		log.Fatal(err)
	}
	var total float64
	for _, op := range ops {
		fmt.Println(op.Index, op.Type, op.Name)
		total += op.Seconds
	}
	fmt.Println("timed:", total > 0)

	other := it.Clone() // for another goroutine
	if err := other.SetInput(0, x); err != nil {
		log.Fatal(err)
	}
	if err := other.Invoke(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("clone output shape", other.Output(0).Shape)
	// Output:
	// 0 Quantize quantize_input_1
	// 1 Conv2D conv2d
	// 2 MaxPool2D max_pooling2d
	// 3 Reshape flatten
	// 4 FullyConnected dense
	// 5 Dequantize dense/dequantize
	// timed: true
	// clone output shape (8, 4)
}
