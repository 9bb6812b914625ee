package quantize_test

import (
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// Quantize a model holding a user-defined block (basicBlock, a type that
// embeds nn.Block; see composite_test.go): Model flattens it, folds its
// Conv+BN pairs and wraps its layers as if they were written inline, with
// no QuantizeConfig for the block.
func ExampleModel_composite() {
	float, err := nn.NewSequential(tensor.Shape{8, 8, 4}, newBasicBlock(4, 1), nn.NewGlobalAveragePooling2D(), nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	qat, err := quantize.Model(float)
	if err != nil {
		panic(err)
	}
	for _, l := range qat.Layers() {
		fmt.Println(l.Name(), l.Type())
	}
	// Output:
	// quantize_input_1 QuantizeInput
	// basic_block/conv2d FoldedConvBN
	// basic_block/conv2d_1 FoldedConvBN
	// basic_block/add QuantizeWrapper
	// basic_block/re_lu_1 QuantizeWrapper
	// global_average_pooling2d GlobalAveragePooling2D
	// dense QuantizeWrapper
}
