package models

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// countParams returns the number of trainable parameter values and of
// state values (BatchNormalization's moving mean and variance), which Keras
// counts as non-trainable parameters and PyTorch as buffers.
func countParams(m *nn.Model) (trainable, state int) {
	for _, p := range m.Params() {
		if p.Trainable {
			trainable += p.Value.Size()
		} else {
			state += p.Value.Size()
		}
	}
	return trainable, state
}

// TestPublishedCounts builds every real network at its canonical size and
// checks its parameters against the published count and its multiply-adds
// (Conv2D, DepthwiseConv2D and Dense, as the papers count them) against the
// published figure, to its last digit.
//
// Keras's counts include BatchNormalization's moving statistics
// (non-trainable parameters); torchvision's counts do not (they are
// buffers). goqat's BatchNormalization holds gamma and beta (trainable) and
// the moving mean and variance (not trainable), so a Keras count is
// compared with trainable + state and a torchvision count with trainable.
func TestPublishedCounts(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      tensor.Shape
		classes int
		// Published counts: keras (trainable + state) or torch
		// (trainable); 0 where the source publishes none.
		keras, torch int
		// Our counts, both kinds.
		trainable, state int
		// Published multiply-adds in units of unit, 0 if none.
		macs, unit int
	}{
		// Keras applications' MobileNet(alpha=1.0): 4,253,864 params;
		// Howard et al. 2017 table 6: 569 million mult-adds.
		{"mobilenet-v1", tensor.Shape{224, 224, 3}, 1000, 4253864, 0, 4231976, 21888, 569, 1e6},
		// Keras applications' MobileNetV2(alpha=1.0): 3,538,984 params;
		// Keras's table (from TF-slim): 300 million MACs.
		{"mobilenet-v2", tensor.Shape{224, 224, 3}, 1000, 3538984, 0, 3504872, 34112, 300, 1e6},
		// torchvision resnet18: 11,689,512 params, 1.81 "GFLOPS" (which
		// are multiply-adds).
		{"resnet18", tensor.Shape{224, 224, 3}, 1000, 0, 11689512, 11689512, 9600, 181, 1e7},
		// torchvision resnet50 (v1.5): 25,557,032 params, 4.09 GMACs.
		// Keras's ResNet50 has 25,636,712: the same layers plus a bias
		// on each of its 53 convolutions, 26,560 values in all (one per
		// channel of the BatchNormalization that follows, which makes
		// them redundant), which goqat's resnet50 leaves out; the
		// count below checks that this is the only difference.
		{"resnet50", tensor.Shape{224, 224, 3}, 1000, 25636712 - 26560, 25557032, 25557032, 53120, 409, 1e7},
		// He et al. 2016 section 4.2 gives "0.27M" for ResNet-20 with
		// option A shortcuts (no parameters): 269,722 with a 10-class
		// Dense. Option B adds two projections, 16*32 + 32*64 = 2,560
		// weights and (32 + 64) * 2 = 192 BN scales and offsets:
		// 272,474, plus 1,568 moving statistics. 40.8 million MACs
		// (computed; the paper gives none).
		{"resnet20", tensor.Shape{32, 32, 3}, 10, 0, 269722 + 2560 + 192, 272474, 1568, 0, 0},
		// torchvision squeezenet1_1: 1,235,496 params, 0.35 GMACs; no BN.
		{"squeezenet", tensor.Shape{224, 224, 3}, 1000, 0, 1235496, 1235496, 0, 35, 1e7},
	} {
		m, err := Build(c.name, c.in, c.classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		tr, st := countParams(m)
		if tr != c.trainable || st != c.state {
			t.Errorf("%s: %d trainable and %d state parameters, want %d and %d", c.name, tr, st, c.trainable, c.state)
		}
		if c.keras != 0 && tr+st != c.keras {
			t.Errorf("%s: %d parameters with the moving statistics, Keras counts %d", c.name, tr+st, c.keras)
		}
		if c.torch != 0 && tr != c.torch {
			t.Errorf("%s: %d trainable parameters, torchvision counts %d", c.name, tr, c.torch)
		}
		n := macs(m)
		if c.unit != 0 && !nearPublished(n, c.macs, c.unit) {
			t.Errorf("%s: %d multiply-adds per image, published %d x %d", c.name, n, c.macs, c.unit)
		}
		if out := m.Outputs()[0]; !out.Equal(tensor.Shape{c.classes}) {
			t.Errorf("%s: output shape %v", c.name, out)
		}
		t.Logf("%s %v: %d trainable + %d state = %d parameters, %d multiply-adds", c.name, c.in, tr, st, tr+st, n)
	}
}

// nearPublished reports whether n is within one unit of the published
// figure pub x unit: the sources round some figures and truncate others
// (Keras's MobileNetV2 table gives 300 million for 300,774,272, the
// MobileNet paper 569 million for 568,740,352).
func nearPublished(n, pub, unit int) bool {
	return math.Abs(float64(n)/float64(unit)-float64(pub)) < 1
}

// TestInputValidation checks the errors for inputs that are too small or
// not images, and for a bad or meaningless alpha.
func TestInputValidation(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    tensor.Shape
		alpha float64
		want  string
	}{
		{"resnet20", tensor.Shape{28, 28, 1}, 0, "input 28x28x1 is smaller than the network's minimum of 32x32"},
		{"resnet50", tensor.Shape{224, 31, 3}, 0, "input 224x31x3 is smaller"},
		{"squeezenet", tensor.Shape{16, 16, 3}, 0, "smaller than the network's minimum"},
		{"mobilenet-v1", tensor.Shape{31, 31, 3}, 0.5, "smaller than the network's minimum"},
		{"mobilenet-v2", tensor.Shape{224, 224}, 0, "image shape (H, W, C)"},
		{"resnet18", tensor.Shape{224, 224, 3, 1}, 0, "image shape (H, W, C)"},
		{"mobilenet-v1", tensor.Shape{32, 32, 3}, 4.5, "alpha (width multiplier) 4.5 must be in (0, 4]"},
		{"mobilenet-v2", tensor.Shape{32, 32, 3}, -1, "must be in (0, 4]"},
		{"mobilenet-v2", tensor.Shape{32, 32, 3}, math.NaN(), "must be in (0, 4]"},
		{"mobilenet-v1", tensor.Shape{32, 32, 3}, 0.02, "alpha 0.02 is too small"},
		{"resnet18", tensor.Shape{224, 224, 3}, 0.5, "model resnet18 has no width multiplier"},
		{"mnist-cnn", tensor.Shape{28, 28, 1}, 2, "model mnist-cnn has no width multiplier"},
	} {
		_, err := BuildWith(c.name, c.in, 10, 1, Options{Alpha: c.alpha})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v alpha %v: error %v, want one containing %q", c.name, c.in, c.alpha, err, c.want)
		}
	}
	// The smallest inputs build, square or not, with any channel count,
	// and alpha 1 is accepted by every network.
	for _, name := range AllNames() {
		in := tensor.Shape{32, 33, 2}
		if networks[name].small {
			in = tensor.Shape{28, 28, 1}
		}
		if _, err := BuildWith(name, in, 3, 1, Options{Alpha: 1}); err != nil {
			t.Errorf("%s %v: %v", name, in, err)
		}
	}
}

func TestNames(t *testing.T) {
	if got := strings.Join(Names(), " "); got != "mnist-cnn mobilenet-tiny" {
		t.Errorf("Names() = %s", got)
	}
	want := "mlp mnist-cnn mobilenet-tiny mobilenet-v1 mobilenet-v2 resnet18 resnet20 resnet50 squeezenet"
	if got := strings.Join(AllNames(), " "); got != want {
		t.Errorf("AllNames() = %s, want %s", got, want)
	}
}

// layerShape returns the output shape of layer name, failing the test if
// the model has no such layer.
func layerShape(t *testing.T, m *nn.Model, name string) tensor.Shape {
	t.Helper()
	if m.Layer(name) == nil {
		t.Fatalf("%s: no layer %q", m.Name(), name)
	}
	return m.OutputShape(name)
}

// countLayers returns the number of layers of m of the given type.
func countLayers(m *nn.Model, typ string) int {
	n := 0
	for _, l := range m.Layers() {
		if l.Type() == typ {
			n++
		}
	}
	return n
}

// smallBatch returns 4 images of shape in with values in [-1, 1] and
// labels 0..3.
func smallBatch(in tensor.Shape) (x, y *tensor.Tensor) {
	x = tensor.New(append([]int{4}, in...)...)
	for i := range x.Data {
		x.Data[i] = float32((i*7)%23)/11 - 1
	}
	y = tensor.New(4)
	for i := range y.Data {
		y.Data[i] = float32(i)
	}
	return x, y
}

// fitStep compiles m with Adam and softmax cross-entropy from logits and
// runs one training step on (x, y), failing on a non-finite loss.
func fitStep(t *testing.T, m *nn.Model, x, y *tensor.Tensor) {
	t.Helper()
	if err := m.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		t.Fatal(err)
	}
	h, err := m.Fit(context.Background(), x, y, nn.FitOptions{BatchSize: x.Shape[0], Seed: 1, Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatalf("%s: %v", m.Name(), err)
	}
	if l := h.Loss[0]; math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
		t.Fatalf("%s: training loss %v", m.Name(), l)
	}
}

// trainable runs a training-mode forward and backward pass of the float
// model m on a small batch and checks that every trainable parameter
// received a gradient, then runs one Fit step, which must change the
// weights. It returns the batch.
func trainable(t *testing.T, m *nn.Model) (x, y *tensor.Tensor) {
	t.Helper()
	x, y = smallBatch(m.Inputs()[0])
	c := &nn.Context{Training: true, Rand: rand.New(rand.NewPCG(1, 2))}
	out, err := m.Forward(c, x)
	if err != nil {
		t.Fatal(err)
	}
	if want := (tensor.Shape{4, m.Outputs()[0][0]}); !out[0].Shape.Equal(want) {
		t.Fatalf("%s: output %v, want %v", m.Name(), out[0].Shape, want)
	}
	for _, p := range m.Params() {
		if p.Grad != nil {
			clear(p.Grad.Data)
		}
	}
	dy := out[0].Clone()
	for i := range dy.Data {
		dy.Data[i] = float32(i%5) - 2
	}
	if err := m.Backward(c, dy); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if !p.Trainable {
			continue
		}
		nonzero := false
		for _, g := range p.Grad.Data {
			if math.IsNaN(float64(g)) {
				t.Fatalf("%s: NaN gradient of %s", m.Name(), p.Name)
			}
			nonzero = nonzero || g != 0
		}
		if !nonzero {
			t.Errorf("%s: parameter %s (%v) got no gradient", m.Name(), p.Name, p.Value.Shape)
		}
	}
	before := m.Params()[0].Value.Clone()
	fitStep(t, m, x, y)
	if slicesEqual(before.Data, m.Params()[0].Value.Data) {
		t.Errorf("%s: one Fit step left the first kernel unchanged", m.Name())
	}
	return x, y
}

// slicesEqual reports whether a and b hold the same values.
func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// qatStep makes the QAT model of m (quantize.Model) and trains it one step
// on (x, y).
func qatStep(t *testing.T, m *nn.Model, x, y *tensor.Tensor) *nn.Model {
	t.Helper()
	qm, err := quantize.Model(m)
	if err != nil {
		t.Fatalf("%s: quantize.Model: %v", m.Name(), err)
	}
	fitStep(t, qm, x, y)
	return qm
}

// integerAgrees runs the integer model im and the QAT model qm (inference
// mode) on x and returns the largest difference of their outputs in units
// of the output's quantization step and the number of differing values.
func integerAgrees(t *testing.T, qm *nn.Model, im *lite.Model, x *tensor.Tensor) (maxLSB float64, differ int) {
	t.Helper()
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	got := it.Output(0)
	want, err := qm.Predict(context.Background(), x, x.Shape[0])
	if err != nil {
		t.Fatal(err)
	}
	last := im.Ops[len(im.Ops)-1]
	if last.Type != lite.OpDequantize {
		t.Fatalf("%s: the integer model ends with %s, not Dequantize", qm.Name(), last.Type)
	}
	scale := float64(im.Tensors[last.Inputs[0]].Scale)
	for i := range want.Data {
		d := math.Abs(float64(got.Data[i])-float64(want.Data[i])) / scale
		if d != 0 {
			differ++
		}
		maxLSB = math.Max(maxLSB, d)
	}
	return maxLSB, differ
}

// checkConverts converts the QAT model qm and checks that the integer
// model computes what qm computes in inference mode: the same output codes
// (docs/DESIGN.md, Numerics).
func checkConverts(t *testing.T, qm *nn.Model, x *tensor.Tensor) {
	t.Helper()
	im, err := convert.Convert(qm)
	if err != nil {
		t.Fatalf("%s: convert.Convert: %v", qm.Name(), err)
	}
	if maxLSB, differ := integerAgrees(t, qm, im, x); differ > 0 {
		t.Errorf("%s: %d integer outputs differ from the QAT model's (up to %v steps)", qm.Name(), differ, maxLSB)
	}
}
