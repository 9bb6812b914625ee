package tflite

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// testNet is a built-in network at a reduced input (the structure of
// every block at a fraction of the work).
type testNet struct {
	name  string
	in    tensor.Shape
	alpha float64
}

// testNets lists every built-in network (checked against
// models.AllNames by TestNetsComplete).
var testNets = []testNet{
	{name: "mlp", in: tensor.Shape{28, 28, 1}},
	{name: "mnist-cnn", in: tensor.Shape{28, 28, 1}},
	{name: "mobilenet-tiny", in: tensor.Shape{28, 28, 1}},
	{name: "mobilenet-v1", in: tensor.Shape{64, 64, 3}, alpha: 0.25},
	{name: "mobilenet-v2", in: tensor.Shape{64, 64, 3}, alpha: 0.35},
	{name: "resnet18", in: tensor.Shape{32, 32, 3}},
	{name: "resnet20", in: tensor.Shape{32, 32, 3}},
	{name: "resnet50", in: tensor.Shape{32, 32, 3}},
	{name: "squeezenet", in: tensor.Shape{64, 64, 3}},
}

// randomImages returns n images of the given shape in [0, 1).
func randomImages(r *rand.Rand, n int, shape tensor.Shape) *tensor.Tensor {
	x := tensor.New(append(tensor.Shape{n}, shape...)...)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	return x
}

// int8Net returns net's integer model (float edges) and test images:
// MNIST-shaped networks are trained for one short epoch on MNIST and
// calibrated on its training images, tested on its test images; the
// others are calibrated and tested on random images (post-training
// quantization of the initial weights).
func int8Net(t *testing.T, net testNet, nTest int) (*lite.Model, *tensor.Tensor) {
	im, x, _ := nets(t, net, nTest)
	return im, x
}

// builtNet is a network's integer and float models, built once per test
// process (training and calibration are the slow part).
type builtNet struct {
	im *lite.Model
	fm *nn.Model
}

var (
	builtMu sync.Mutex
	built   = map[string]builtNet{}
)

// nets returns net's integer model, nTest test images (int8Net) and the
// float model it was quantized from.
func nets(t *testing.T, net testNet, nTest int) (*lite.Model, *tensor.Tensor, *nn.Model) {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	mnist := net.in.Equal(tensor.Shape{28, 28, 1})
	var test *tensor.Tensor
	if mnist {
		_, tst, err := datasets.MNIST()
		if err != nil {
			t.Fatal(err)
		}
		test = tst.X.Batch(0, nTest)
	} else {
		test = randomImages(rand.New(rand.NewPCG(13, uint64(nTest))), nTest, net.in)
	}
	if b, ok := built[net.name]; ok {
		return b.im, test, b.fm
	}
	ctx := context.Background()
	_, classes, _ := models.Canonical(net.name)
	m, err := models.BuildWith(net.name, net.in, classes, 7, models.Options{Alpha: net.alpha})
	if err != nil {
		t.Fatal(err)
	}
	var calib *tensor.Tensor
	if mnist {
		train, _, err := datasets.MNIST()
		if err != nil {
			t.Fatal(err)
		}
		const nTrain = 2000
		x, y := train.X.Batch(0, nTrain), train.Y.Batch(0, nTrain)
		if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(ctx, x, y, nn.FitOptions{BatchSize: 32, Epochs: 1, Seed: 3, Verbose: nn.VerboseSilent}); err != nil {
			t.Fatal(err)
		}
		calib = train.X.Batch(nTrain, nTrain+500)
	} else {
		calib = randomImages(rand.New(rand.NewPCG(11, 17)), 64, net.in)
	}
	q, err := quantize.PTQ(ctx, m, calib, 32)
	if err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(q)
	if err != nil {
		t.Fatal(err)
	}
	built[net.name] = builtNet{im: im, fm: m}
	return im, test, m
}

// inputCodes quantizes x with the int8 input tensor of m (a full-integer
// model) as goqat's input quantizer does.
func inputCodes(m *lite.Model, x *tensor.Tensor) *tensor.Int8 {
	in := &m.Tensors[m.Inputs[0]]
	lo, hi := in.QRange()
	q := tensor.NewInt8(x.Shape...)
	for i, v := range x.Data {
		q.Data[i] = int8(qmath.QuantizeValue(v, in.Scale, in.ZeroPoint, lo, hi))
	}
	return q
}

// runGoqat runs m on int8 inputs and returns output 0's codes.
func runGoqat(t *testing.T, m *lite.Model, x *tensor.Int8) []int8 {
	t.Helper()
	it, err := lite.NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInputInt8(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

// agreement counts identical values and identical top-1 classes of two
// outputs of rows of width c.
type agreement struct {
	values, same, rows, top1, maxDiff int
}

func compareCodes(a, b []int8, c int) agreement {
	g := agreement{values: len(a), rows: len(a) / c}
	for i := range a {
		if a[i] == b[i] {
			g.same++
		}
		g.maxDiff = max(g.maxDiff, abs(int(a[i])-int(b[i])))
	}
	for r := 0; r < g.rows; r++ {
		if argmax(a[r*c:(r+1)*c]) == argmax(b[r*c:(r+1)*c]) {
			g.top1++
		}
	}
	return g
}

func abs(x int) int { return max(x, -x) }

func argmax(v []int8) int {
	k := 0
	for i, x := range v {
		if x > v[k] {
			k = i
		}
	}
	return k
}
