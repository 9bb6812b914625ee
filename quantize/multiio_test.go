package quantize

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/tensor"
)

// twoHeadQAT returns the QAT form of a model with a Dense-BN-ReLU trunk and
// two outputs (3 class scores, 1 value), compiled with a loss per output
// (keyed by index) and the regression's weight w.
func twoHeadQAT(t *testing.T, w float64) *nn.Model {
	t.Helper()
	in := nn.Input(8)
	h := nn.Call(nn.NewReLU(), nn.Call(nn.NewBatchNormalization(), nn.Call(nn.NewDense(16), in)))
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{nn.Call(nn.NewDense(3), h), nn.Call(nn.NewDense(1), h)})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(3)
	qm, err := Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := qm.Compile(nn.CompileOptions{
		Losses:        map[string]nn.Loss{"0": nn.SparseCategoricalCrossentropy{FromLogits: true}, "1": nn.MeanSquaredError{}},
		LossWeights:   map[string]float64{"1": w},
		OutputMetrics: map[string][]string{"0": {"accuracy"}},
		Optimizer:     optim.NewAdam(1e-2),
	}); err != nil {
		t.Fatal(err)
	}
	return qm
}

// TestQATTwoOutputs: a QAT model with two outputs trains through FitMulti
// with weighted losses, evaluates and predicts per output, and a
// regression weight of 0 leaves that head's trainable weights (under Adam)
// bit-identical.
func TestQATTwoOutputs(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(4, 4))
	n := 192
	x, cls, reg := tensor.New(n, 8), tensor.New(n), tensor.New(n, 1)
	for i := range n {
		c := r.IntN(3)
		cls.Data[i] = float32(c)
		for j := range 8 {
			x.Data[i*8+j] = float32(r.NormFloat64()*0.5) + float32(c*(j%3)) - 1
		}
		reg.Data[i] = 0.5 * (x.Data[i*8] + x.Data[i*8+4])
	}
	xs, ys := []*tensor.Tensor{x}, []*tensor.Tensor{cls, reg}
	qm := twoHeadQAT(t, 0.5)
	names := qm.OutputNames()
	h, err := qm.FitMulti(ctx, xs, ys, nn.FitOptions{BatchSize: 32, Epochs: 4, Seed: 1, Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", names[0] + "_loss", names[1] + "_loss"} {
		if v := h.Metrics[k]; len(v) != 4 || !(v[3] < v[0]) || math.IsNaN(v[3]) {
			t.Errorf("%s: %v (want it to fall)", k, v)
		}
	}
	ev, err := qm.EvaluateMulti(ctx, xs, ys, nn.EvaluateOptions{Verbose: nn.VerboseSilent})
	if err != nil {
		t.Fatal(err)
	}
	if a := ev[names[0]+"_accuracy"]; a < 0.8 || len(ev) != 4 {
		t.Errorf("EvaluateMulti: %v", ev)
	}
	preds, err := qm.PredictMulti(ctx, xs, 50)
	if err != nil || len(preds) != 2 || !preds[1].Shape.Equal(tensor.Shape{n, 1}) {
		t.Fatalf("PredictMulti: %v, %v", preds, err)
	}

	if equalBits(headBits(qm), headBits(twoHeadQAT(t, 0.5))) {
		t.Errorf("weight 0.5: the regression head did not train")
	}

	qm = twoHeadQAT(t, 0)
	before := headBits(qm)
	if len(before) == 0 {
		t.Fatal("the regression head has no trainable weights")
	}
	if _, err := qm.FitMulti(ctx, xs, ys, nn.FitOptions{BatchSize: 32, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	if !equalBits(before, headBits(qm)) {
		t.Errorf("weight 0: the regression head's weights changed")
	}
}

// headBits returns the bits of the trainable weights of the model's second
// output layer.
func headBits(qm *nn.Model) []uint32 {
	var b []uint32
	for _, p := range qm.Layer(qm.OutputNames()[1]).Params() {
		if p.Trainable {
			for _, v := range p.Value.Data {
				b = append(b, math.Float32bits(v))
			}
		}
	}
	return b
}

func equalBits(a, b []uint32) bool {
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
