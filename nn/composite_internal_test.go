package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// A model holding a nested model of built-in layers keeps its inference
// plan (the nested model is one op running its own plan), and its
// predictions are those of its layers run one by one, within float
// rounding (infer.go).
func TestInferPlanWithComposite(t *testing.T) {
	inner := must(t)(NewSequential(tensor.Shape{6, 6, 3}, NewConv2D(4, 3, 3), NewBatchNormalization(), NewReLU()))
	m := must(t)(NewSequential(tensor.Shape{6, 6, 3}, NewConv2D(3, 1, 1), inner.AsLayer(), NewFlatten(), NewDense(2)))
	custom := must(t)(NewSequential(tensor.Shape{3}, &testScale{}))
	withCustom := must(t)(NewSequential(tensor.Shape{3}, custom.AsLayer(), NewDense(2)))
	if m.inferPlanOf() == nil {
		t.Fatal("no inference plan for a model holding a built-in nested model")
	}
	if withCustom.inferPlanOf() != nil {
		t.Fatal("an inference plan for a model holding a custom layer")
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range m.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(r.NormFloat64() * 0.2)
		}
	}
	x := randTensor(r, 5, 6, 6, 3)
	plan, err := m.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]float32(nil), plan[0].Data...)
	layers, err := m.forwardLayers(&Context{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range layers[0].Data {
		if math.Abs(float64(v-got[i])) > 1e-5*(1+math.Abs(float64(v))) {
			t.Fatalf("output %d: plan %v, layers %v", i, got[i], v)
		}
	}
}
