package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// gradCheck builds layer on the given per-sample input shapes, feeds a batch
// of random inputs, and compares the layer's Backward (for the loss
// L = sum(out * R) with a fixed random R) against central finite differences
// of L for every input and every trainable parameter. The loss is summed in
// float64; eps and tol are in float32 terms (eps 1e-2, tol 2e-2 suit most
// layers). Context c is reused for every pass, with Rand reseeded each time
// so that dropout draws the same mask.
func gradCheck(t *testing.T, layer Layer, batch int, training bool, eps, tol float64, inShapes ...tensor.Shape) {
	t.Helper()
	outShape, err := layer.Build(inShapes)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	if ini, ok := layer.(Initializer); ok {
		ini.InitWeights(r)
	}
	// Perturb every parameter a little so that zero biases and unit gammas do
	// not hide errors.
	for _, p := range layer.Params() {
		for i := range p.Value.Data {
			p.Value.Data[i] += float32(r.NormFloat64() * 0.1)
		}
		if !p.Trainable && p.Name == "moving_variance" {
			for i := range p.Value.Data {
				p.Value.Data[i] = 0.5 + float32(math.Abs(float64(p.Value.Data[i])))
			}
		}
	}
	ins := make([]*tensor.Tensor, len(inShapes))
	for i, s := range inShapes {
		ins[i] = tensor.New(append([]int{batch}, s...)...)
		for j := range ins[i].Data {
			ins[i].Data[j] = float32(r.NormFloat64())
		}
	}
	R := tensor.New(append([]int{batch}, outShape...)...)
	for j := range R.Data {
		R.Data[j] = float32(r.NormFloat64())
	}
	ctx := func() *Context {
		return &Context{Training: training, Rand: rand.New(rand.NewPCG(7, 7))}
	}
	loss := func() float64 {
		out := layer.Forward(ctx(), ins)
		if !out.Shape.Equal(R.Shape) {
			t.Fatalf("Forward shape %v, want %v", out.Shape, R.Shape)
		}
		var s float64
		for j, v := range out.Data {
			s += float64(v) * float64(R.Data[j])
		}
		return s
	}
	loss()
	dIns := layer.Backward(ctx(), R)
	if len(dIns) != len(ins) {
		t.Fatalf("Backward returned %d gradients for %d inputs", len(dIns), len(ins))
	}
	// Copy analytic gradients: the layer may reuse its buffers.
	type target struct {
		name string
		vals []float32
		ana  []float32
	}
	var targets []target
	for i, d := range dIns {
		if !d.Shape.Equal(ins[i].Shape) {
			t.Fatalf("dIn[%d] shape %v, want %v", i, d.Shape, ins[i].Shape)
		}
		targets = append(targets, target{name: "input", vals: ins[i].Data, ana: append([]float32(nil), d.Data...)})
	}
	for _, p := range layer.Params() {
		if p.Trainable {
			targets = append(targets, target{name: p.Name, vals: p.Value.Data, ana: append([]float32(nil), p.Grad.Data...)})
		}
	}
	for _, tg := range targets {
		// Check at most 60 entries per tensor, spread evenly.
		step := max(1, len(tg.vals)/60)
		for j := 0; j < len(tg.vals); j += step {
			orig := tg.vals[j]
			tg.vals[j] = orig + float32(eps)
			lp := loss()
			tg.vals[j] = orig - float32(eps)
			lm := loss()
			tg.vals[j] = orig
			num := (lp - lm) / (2 * eps)
			ana := float64(tg.ana[j])
			if d := math.Abs(num - ana); d > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s %s[%d]: analytic %.6g, numeric %.6g", layer.Type(), tg.name, j, ana, num)
			}
		}
	}
}
