package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// gradCheck compares a built layer's Backward, for the loss L = sum(out*R)
// with a fixed random R, against central finite differences of L for the
// input and every trainable parameter (as nn's own gradient check does).
func gradCheck(t *testing.T, layer nn.Layer, ctx func() *nn.Context, eps, tol float64, x *tensor.Tensor, r *rand.Rand) {
	t.Helper()
	out := layer.Forward(ctx(), []*tensor.Tensor{x})
	R := tensor.New(out.Shape...)
	for j := range R.Data {
		R.Data[j] = float32(r.NormFloat64())
	}
	loss := func() float64 {
		out := layer.Forward(ctx(), []*tensor.Tensor{x})
		var s float64
		for j, v := range out.Data {
			s += float64(v) * float64(R.Data[j])
		}
		return s
	}
	loss()
	dIn := layer.Backward(ctx(), R)
	type target struct {
		name      string
		vals, ana []float32
	}
	targets := []target{{"input", x.Data, append([]float32(nil), dIn[0].Data...)}}
	for _, p := range layer.Params() {
		if p.Trainable {
			targets = append(targets, target{p.Name, p.Value.Data, append([]float32(nil), p.Grad.Data...)})
		}
	}
	for _, tg := range targets {
		step := max(1, len(tg.vals)/40)
		for j := 0; j < len(tg.vals); j += step {
			orig := tg.vals[j]
			tg.vals[j] = orig + float32(eps)
			lp := loss()
			tg.vals[j] = orig - float32(eps)
			lm := loss()
			tg.vals[j] = orig
			num := (lp - lm) / (2 * eps)
			if d := math.Abs(num - float64(tg.ana[j])); d > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s %s[%d]: analytic %.6g, numeric %.6g", layer.Type(), tg.name, j, tg.ana[j], num)
			}
		}
	}
}

// randomize fills every parameter with random values (moving variance
// positive) so that unit gammas and zero biases hide nothing.
func randomize(ps []*nn.Param, r *rand.Rand) {
	for _, p := range ps {
		for i := range p.Value.Data {
			switch {
			case p.Name == "moving_variance":
				p.Value.Data[i] = 0.5 + float32(r.Float64())
			case p.Name == "gamma":
				p.Value.Data[i] = 0.5 + float32(r.Float64())
			case p.Name == "bn_frozen" || !p.Trainable && p.Name != "moving_mean":
			default:
				p.Value.Data[i] = float32(r.NormFloat64() * 0.5)
			}
		}
	}
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}
