package nn_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// denseResidual is a user-defined block, Go's form of a Keras subclassed
// layer: its sub-layers are fields, Define is its forward pass.
type denseResidual struct {
	nn.Block
	Units int

	inner, outer *nn.Dense
}

func newDenseResidual(units int) *denseResidual {
	return &denseResidual{Units: units, inner: nn.NewDense(units), outer: nn.NewDense(units)}
}

func init() {
	// Registered, a model holding the block loads with nn.Load.
	nn.Register("DenseResidual", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var cfg struct {
			Units int `json:"units"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		b := newDenseResidual(cfg.Units)
		b.SetName(name)
		return b, nil
	})
}

func (b *denseResidual) Type() string { return "DenseResidual" }
func (b *denseResidual) Config() any  { return map[string]int{"units": b.Units} }

// Define: x + Dense(ReLU(Dense(x))).
func (b *denseResidual) Define(in ...*nn.Node) *nn.Node {
	h := nn.Call(b.outer, nn.Call(nn.NewReLU(), nn.Call(b.inner, in[0])))
	return nn.Call(nn.NewAdd(), in[0], h)
}

// A user-defined block (a type embedding nn.Block) in a Sequential model:
// it trains, and Summary lists its sub-layers.
func ExampleBlock() {
	m, err := nn.NewSequential(tensor.Shape{4}, newDenseResidual(4), nn.NewDense(2))
	if err != nil {
		panic(err)
	}
	fmt.Print(m.Summary())
	x, y := tensor.New(8, 4), tensor.New(8)
	for i := range x.Data {
		x.Data[i] = float32(i%7) / 7
	}
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewSGD(0.1, 0)}); err != nil {
		panic(err)
	}
	if _, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: 4, Verbose: nn.VerboseSilent}); err != nil {
		panic(err)
	}
	// Output:
	// Model: "sequential"
	// _____________________________________________________________________
	//  Layer (type)                     Output Shape             Param #
	// =====================================================================
	//  dense_residual (DenseResidual)   (None, 4)                40
	//    dense (Dense)                  (None, 4)                20
	//    re_lu (ReLU)                   (None, 4)                0
	//    dense_1 (Dense)                (None, 4)                20
	//    add (Add)                      (None, 4)                0
	//  dense (Dense)                    (None, 2)                10
	// =====================================================================
	// Total params: 50
	// Trainable params: 50
	// Non-trainable params: 0
	// _____________________________________________________________________
}

// A pretrained model nested in a new model as its backbone, frozen while
// the new head trains.
func ExampleModel_AsLayer() {
	backbone, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(8), nn.NewReLU())
	if err != nil {
		panic(err)
	}
	backbone.SetName("backbone")
	backbone.SetTrainable(false)
	x := nn.Input(4)
	y := nn.Call(nn.NewDense(3), nn.Call(backbone.AsLayer(), x))
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		panic(err)
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "model"
	// ____________________________________________________________________________________
	//  Layer (type)                Output Shape             Param #   Connected to
	// ====================================================================================
	//  input_1 (InputLayer)        (None, 4)                0         []
	//  backbone (Sequential)       (None, 8)                40        input_1[0][0]
	//    dense (Dense)             (None, 8)                40
	//    re_lu (ReLU)              (None, 8)                0
	//  dense (Dense)               (None, 3)                27        backbone[0][0]
	// ====================================================================================
	// Total params: 67
	// Trainable params: 27
	// Non-trainable params: 40
	// ____________________________________________________________________________________
}
