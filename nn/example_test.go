package nn_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// A Sequential model is a chain of layers on one input.
func ExampleNewSequential() {
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1},
		nn.NewConv2D(32, 3, 3), nn.NewBatchNormalization(), nn.NewReLU(), nn.NewMaxPooling2D(2, 2),
		nn.NewFlatten(), nn.NewDense(10))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "sequential"
	// _______________________________________________________________________________
	//  Layer (type)                               Output Shape             Param #
	// ===============================================================================
	//  conv2d (Conv2D)                            (None, 26, 26, 32)       320
	//  batch_normalization (BatchNormalization)   (None, 26, 26, 32)       128
	//  re_lu (ReLU)                               (None, 26, 26, 32)       0
	//  max_pooling2d (MaxPooling2D)               (None, 13, 13, 32)       0
	//  flatten (Flatten)                          (None, 5408)             0
	//  dense (Dense)                              (None, 10)               54,090
	// ===============================================================================
	// Total params: 54,538
	// Trainable params: 54,474
	// Non-trainable params: 64
	// _______________________________________________________________________________
}

// A Functional model is any graph of layers: here a residual block, where
// the input feeds both a Dense layer and the Add that closes the block.
func ExampleNewModel() {
	x := nn.Input(16)
	h := nn.Call(nn.NewDense(16), x)
	h = nn.Call(nn.NewReLU(), h)
	y := nn.Call(nn.NewAdd(), x, h)
	out := nn.Call(nn.NewDense(4), y)
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{out})
	if err != nil { // errors of any Call above surface here
		log.Fatal(err)
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "model"
	// ____________________________________________________________________________________
	//  Layer (type)                Output Shape             Param #   Connected to
	// ====================================================================================
	//  input_1 (InputLayer)        (None, 16)               0         []
	//  dense (Dense)               (None, 16)               272       input_1[0][0]
	//  re_lu (ReLU)                (None, 16)               0         dense[0][0]
	//  add (Add)                   (None, 16)               0         input_1[0][0]
	//                                                                 re_lu[0][0]
	//  dense_1 (Dense)             (None, 4)                68        add[0][0]
	// ====================================================================================
	// Total params: 340
	// Trainable params: 340
	// Non-trainable params: 0
	// ____________________________________________________________________________________
}

// Fit trains a compiled model; the same seeds give the same run bit for
// bit.
func ExampleModel_Fit() {
	// Two classes: is the sum of the 4 features positive?
	r := rand.New(rand.NewPCG(1, 2))
	x, y := tensor.New(256, 4), tensor.New(256)
	for i := 0; i < 256; i++ {
		var s float32
		for j := 0; j < 4; j++ {
			v := float32(r.NormFloat64())
			x.Data[i*4+j] = v
			s += v
		}
		if s > 0 {
			y.Data[i] = 1
		}
	}
	m, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(8), nn.NewReLU(), nn.NewDense(2))
	if err != nil {
		log.Fatal(err)
	}
	err = m.Compile(nn.CompileOptions{
		Loss:      nn.SparseCategoricalCrossentropy{FromLogits: true},
		Optimizer: optim.NewAdam(0.01),
		Metrics:   []string{"accuracy"},
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := m.Fit(context.Background(), x, y, nn.FitOptions{Epochs: 20, Seed: 7, Verbose: nn.VerboseSilent})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("epochs: %d, steps: %d\n", len(h.Epoch), m.Step())
	fmt.Printf("loss fell: %v\n", h.Loss[19] < h.Loss[0]/2)
	fmt.Printf("accuracy above 95%%: %v\n", h.Accuracy[19] > 0.95)
	// Output:
	// epochs: 20, steps: 160
	// loss fell: true
	// accuracy above 95%: true
}

// Save writes the architecture and weights in one safetensors file; Load
// rebuilds the model.
func ExampleLoad() {
	m, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(8), nn.NewReLU(), nn.NewDense(2))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "goqat-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := nn.Save(path, m); err != nil {
		log.Fatal(err)
	}
	loaded, err := nn.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range loaded.Layers() {
		fmt.Println(l.Name(), l.Type(), loaded.Inbound(l.Name()))
	}
	// Output:
	// dense Dense [input_1]
	// re_lu ReLU [dense]
	// dense_1 Dense [re_lu]
}
