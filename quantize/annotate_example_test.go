package quantize_test

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// Annotate a whole model (tfmot quantize_annotate_model) and give one layer
// its own config: Apply then quantizes every layer with the registry's
// default but that one, which keeps its Dense kernel float and quantizes
// only its output.
func ExampleAnnotateModel() {
	conv := nn.NewConv2D(4, 3, 3)
	dense := nn.NewDense(2)
	float, err := nn.NewSequential(tensor.Shape{8, 8, 1},
		conv, nn.NewBatchNormalization(), nn.NewReLU(),
		nn.NewFlatten(), dense)
	if err != nil {
		panic(err)
	}
	qat, err := quantize.Apply(float,
		quantize.AnnotateModel(float),
		quantize.AnnotateLayer(dense, quantize.Config{OutputQuantized: true}))
	if err != nil {
		panic(err)
	}
	for _, l := range qat.Layers() {
		fmt.Println(l.Name(), l.Type())
	}
	w := qat.Layer("dense").(*quantize.QuantizeWrapper)
	fmt.Println("dense kernel quantized:", w.WeightQuantizer("kernel") != nil)
	// Output:
	// quantize_input_1 QuantizeInput
	// conv2d FoldedConvBN
	// flatten Flatten
	// dense QuantizeWrapper
	// dense kernel quantized: false
}
