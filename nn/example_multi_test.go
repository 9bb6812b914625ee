package nn_test

import (
	"context"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// A model with two outputs, as Keras's compile(loss={...},
// loss_weights={...}) and fit(x, [y1, y2]): a shared trunk, a
// classification head ("sign", cross-entropy and accuracy) and a
// regression head ("sum", mean squared error) weighted 0.5 in the total
// loss.
func ExampleModel_FitMulti() {
	r := rand.New(rand.NewPCG(1, 2))
	n := 256
	x, sign, sum := tensor.New(n, 4), tensor.New(n), tensor.New(n, 1)
	for i := range n {
		var s float32
		for j := range 4 {
			v := float32(r.NormFloat64())
			x.Data[i*4+j] = v
			s += v
		}
		if s > 0 {
			sign.Data[i] = 1
		}
		sum.Data[i] = s
	}

	in := nn.Input(4)
	trunk := nn.Call(nn.NewReLU(), nn.Call(nn.NewDense(16), in))
	signHead, sumHead := nn.NewDense(2), nn.NewDense(1)
	signHead.SetName("sign")
	sumHead.SetName("sum")
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{nn.Call(signHead, trunk), nn.Call(sumHead, trunk)})
	if err != nil {
		log.Fatal(err)
	}
	err = m.Compile(nn.CompileOptions{
		Losses: map[string]nn.Loss{
			"sign": nn.SparseCategoricalCrossentropy{FromLogits: true},
			"sum":  nn.MeanSquaredError{},
		},
		LossWeights:   map[string]float64{"sign": 1, "sum": 0.5},
		OutputMetrics: map[string][]string{"sign": {"accuracy"}},
		Optimizer:     optim.NewAdam(0.01),
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := m.FitMulti(context.Background(), []*tensor.Tensor{x}, []*tensor.Tensor{sign, sum},
		nn.FitOptions{Epochs: 20, Seed: 7, Verbose: nn.VerboseSilent})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged:", slices.Sorted(maps.Keys(h.Metrics)))
	fmt.Printf("loss fell: %v\n", h.Loss[19] < h.Loss[0]/2)
	fmt.Printf("sum_loss fell: %v\n", h.Metrics["sum_loss"][19] < h.Metrics["sum_loss"][0]/2)
	fmt.Printf("sign_accuracy above 95%%: %v\n", h.Metrics["sign_accuracy"][19] > 0.95)

	preds, err := m.PredictMulti(context.Background(), []*tensor.Tensor{x}, 64)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("predictions:", preds[0].Shape, preds[1].Shape)
	// Output:
	// logged: [loss sign_accuracy sign_loss sum_loss]
	// loss fell: true
	// sum_loss fell: true
	// sign_accuracy above 95%: true
	// predictions: (256, 2) (256, 1)
}
