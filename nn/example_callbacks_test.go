package nn_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// noisySum returns n samples of 4 features labelled by whether their sum
// is positive, a share flip of the labels flipped.
func noisySum(seed uint64, n int, flip float64) (x, y *tensor.Tensor) {
	r := rand.New(rand.NewPCG(seed, 2))
	x, y = tensor.New(n, 4), tensor.New(n)
	for i := 0; i < n; i++ {
		var s float32
		for j := 0; j < 4; j++ {
			v := float32(r.NormFloat64())
			x.Data[i*4+j] = v
			s += v
		}
		if (s > 0) != (r.Float64() < flip) {
			y.Data[i] = 1
		}
	}
	return x, y
}

// Keras's training callbacks: stop when the validation loss stops
// improving and keep the best epoch's weights, halve the learning rate on
// plateaus, save the best model and log every epoch to a CSV file.
func ExampleEarlyStopping() {
	dir, err := os.MkdirTemp("", "goqat-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	x, y := noisySum(1, 256, 0.2)
	vx, vy := noisySum(2, 128, 0.2)
	m, err := nn.NewSequential(tensor.Shape{4}, nn.NewDense(64), nn.NewReLU(), nn.NewDense(64), nn.NewReLU(), nn.NewDense(2))
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
	stop := &nn.EarlyStopping{Monitor: "val_loss", Patience: 3, RestoreBestWeights: true}
	best := &nn.ModelCheckpoint{Path: filepath.Join(dir, "best.safetensors"), Monitor: "val_loss", SaveBestOnly: true}
	plateau := &nn.ReduceLROnPlateau{Monitor: "val_loss", Factor: 0.5, Patience: 1}
	csv := &nn.CSVLogger{Path: filepath.Join(dir, "log.csv")}
	h, err := m.Fit(context.Background(), x, y, nn.FitOptions{
		Epochs: 100, Seed: 7, Verbose: nn.VerboseSilent,
		ValidationX: vx, ValidationY: vy,
		Callbacks: []nn.Callback{plateau, stop, best, csv},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped before 100 epochs:", len(h.Epoch) < 100)
	fmt.Println("stopped", len(h.Epoch)-1-stop.BestEpoch(), "epochs after the best one")
	loss, _, err := m.Evaluate(context.Background(), vx, vy, nn.EvaluateOptions{Verbose: nn.VerboseSilent})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("best weights restored:", loss == h.ValLoss[stop.BestEpoch()])
	fmt.Println("learning rate reduced:", plateau.Reductions() > 0)
	b, err := os.ReadFile(csv.Path)
	if err != nil {
		log.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	fmt.Println(lines[0])
	fmt.Println("one row per epoch:", len(lines)-1 == len(h.Epoch))
	// Output:
	// stopped before 100 epochs: true
	// stopped 3 epochs after the best one
	// best weights restored: true
	// learning rate reduced: true
	// epoch,accuracy,learning_rate,loss,val_accuracy,val_loss
	// one row per epoch: true
}

// Class weights scale each sample's loss by the weight of its label, as
// Keras's class_weight: here the rare class 1 counts as much as class 0 in
// total ("balanced" weights, n / (classes * count)).
func ExampleBalancedClassWeights() {
	y, err := tensor.FromSlice([]float32{0, 0, 0, 0, 0, 0, 1, 1}, 8)
	if err != nil {
		log.Fatal(err)
	}
	cw, err := nn.BalancedClassWeights(y, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("class 0: %.3f, class 1: %.3f\n", cw[0], cw[1])
	// Pass them to Fit as nn.FitOptions{ClassWeight: cw}.
	// Output:
	// class 0: 0.667, class 1: 2.000
}

// A confusion matrix, the per-class report and top-k accuracy of class
// scores (here made by hand; in practice Model.Predict's output).
func ExampleConfusionMatrix() {
	scores, err := tensor.FromSlice([]float32{
		0.8, 0.1, 0.1, // cat: right
		0.2, 0.7, 0.1, // cat predicted as dog
		0.1, 0.8, 0.1, // dog: right
		0.1, 0.3, 0.6, // bird: right
		0.5, 0.1, 0.4, // bird predicted as cat, second guess right
	}, 5, 3)
	if err != nil {
		log.Fatal(err)
	}
	labels, err := tensor.FromSlice([]float32{0, 0, 1, 2, 2}, 5)
	if err != nil {
		log.Fatal(err)
	}
	cm, err := nn.NewConfusionMatrix(3)
	if err != nil {
		log.Fatal(err)
	}
	if err := cm.Add(scores, labels); err != nil {
		log.Fatal(err)
	}
	fmt.Print(cm.Format([]string{"cat", "dog", "bird"}))
	top2, err := nn.TopKCorrect(scores, labels, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("accuracy %.2f, top-2 accuracy %.2f\n", cm.Accuracy(), float64(top2)/5)
	// Output:
	// class      precision     recall         f1  support
	// cat           0.5000     0.5000     0.5000        2
	// dog           0.5000     1.0000     0.6667        1
	// bird          1.0000     0.5000     0.6667        2
	// macro avg     0.6667     0.6667     0.6111        5
	//
	// confusion matrix (rows: true class, columns: predicted)
	//            cat  dog bird
	// cat          1    1    0
	// dog          0    1    0
	// bird         1    0    1
	// accuracy 0.60, top-2 accuracy 1.00
}
