package onnx_test

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/goqat/goqat/format/onnx"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// ExampleExportFloat exports a small float model to ONNX, reads it back
// with Import and checks that both compute the same outputs.
func ExampleExportFloat() {
	m, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		nn.NewConv2D(4, 3, 3), nn.NewReLU(), nn.NewMaxPooling2D(2, 2),
		nn.NewFlatten(), nn.NewDense(3))
	if err != nil {
		panic(err)
	}
	mp, err := onnx.ExportFloat(m)
	if err != nil {
		panic(err)
	}
	var ops []string
	for _, n := range mp.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	fmt.Println(strings.Join(ops, " "))

	back, err := onnx.Import(mp)
	if err != nil {
		panic(err)
	}
	x := tensor.New(2, 8, 8, 1)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(float64(i)))
	}
	y1, _ := m.Predict(context.Background(), x, 2)
	y2, _ := back.Predict(context.Background(), x, 2)
	d := 0.0
	for i := range y1.Data {
		d = math.Max(d, math.Abs(float64(y1.Data[i]-y2.Data[i])))
	}
	fmt.Println("outputs", y2.Shape, "max difference below 1e-5:", d < 1e-5)
	// Output:
	// Transpose Conv Relu MaxPool Transpose Flatten Gemm
	// outputs (2, 3) max difference below 1e-5: true
}
