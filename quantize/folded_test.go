package quantize

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// foldCase is one folded pattern: a float layer, its input shape and the
// activation.
type foldCase struct {
	name  string
	layer func() nn.Layer
	in    []int
	act   string
}

func foldCases() []foldCase {
	return []foldCase{
		{"conv2d+bias+relu6", func() nn.Layer {
			c := nn.NewConv2D(4, 3, 3)
			c.Padding, c.Strides = "same", [2]int{2, 1}
			return c
		}, []int{5, 6, 3}, "relu6"},
		{"conv2d-nobias+relu", func() nn.Layer { c := nn.NewConv2D(3, 2, 2); c.UseBias = false; return c }, []int{4, 4, 2}, "relu"},
		{"depthwise", func() nn.Layer { d := nn.NewDepthwiseConv2D(3, 3); d.Padding = "same"; return d }, []int{4, 5, 3}, ""},
		{"dense", func() nn.Layer { return nn.NewDense(5) }, []int{7}, ""},
		{"conv2d-grouped-dilated", func() nn.Layer {
			c := nn.NewConv2D(4, 3, 3)
			c.Padding, c.DilationRate, c.Groups = "same", [2]int{2, 1}, 2
			return c
		}, []int{6, 5, 4}, "relu"},
		{"depthwise-multiplier-stride2", func() nn.Layer {
			d := nn.NewDepthwiseConv2D(3, 3)
			d.Padding, d.Strides, d.DepthMultiplier = "same", [2]int{2, 2}, 2
			return d
		}, []int{5, 6, 3}, ""},
		{"conv1d+bias+relu", func() nn.Layer {
			c := nn.NewConv1D(4, 3)
			c.Padding, c.Strides = "same", 2
			return c
		}, []int{9, 3}, "relu"},
		{"conv1d-causal-dilated-nobias", func() nn.Layer {
			c := nn.NewConv1D(5, 2)
			c.Padding, c.DilationRate, c.UseBias = "causal", 2, false
			return c
		}, []int{7, 4}, ""},
	}
}

// foldPair returns the unfolded float model (layer, BN, activation) and a
// FoldedConvBN with the same weights and the given quantizers.
func foldPair(t *testing.T, fc foldCase, momentum float64, freeze int, wq, oq *Spec, r *rand.Rand) (*nn.Model, *FoldedConvBN) {
	t.Helper()
	conv := fc.layer()
	bn := nn.NewBatchNormalization()
	bn.Momentum = momentum
	layers := []nn.Layer{conv, bn}
	switch fc.act {
	case "relu":
		layers = append(layers, nn.NewReLU())
	case "relu6":
		layers = append(layers, nn.NewReLU6())
	}
	fm, err := nn.NewSequential(fc.in, layers...)
	if err != nil {
		t.Fatal(err)
	}
	randomize(fm.Params(), r)
	raw, _ := json.Marshal(conv.Config())
	f, err := NewFoldedConvBN(FoldedConfig{
		Layer:     LayerSpec{Type: conv.Type(), Config: raw},
		BatchNorm: bn.Config().(nn.BatchNormalizationConfig), Activation: fc.act,
		WeightQuantizer: wq, OutputQuantizer: oq, FreezeBNAfter: freeze,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.SetName("folded")
	if _, err := f.Build([]tensor.Shape{fc.in}); err != nil {
		t.Fatal(err)
	}
	src := map[string]*nn.Param{}
	for _, p := range append(conv.Params(), bn.Params()...) {
		src[p.Name] = p
	}
	for _, p := range f.Params() {
		if s := src[p.Name]; s != nil {
			copy(p.Value.Data, s.Value.Data)
		}
	}
	return fm, f
}

// maxRel returns max|a-b| / max(1e-3, max|b|).
func maxRel(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(m, 1e-3)
}

func TestFoldedInferenceEqualsUnfolded(t *testing.T) {
	for _, fc := range foldCases() {
		r := rand.New(rand.NewPCG(5, 6))
		fm, f := foldPair(t, fc, 0.99, -1, nil, nil, r)
		x := randTensor(r, append([]int{3}, fc.in...)...)
		want, err := fm.Forward(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		got := f.Forward(&nn.Context{}, []*tensor.Tensor{x})
		if e := maxRel(got.Data, want[0].Data); e > 1e-5 {
			t.Errorf("%s: folded inference differs from Conv+BN by %.3g relative", fc.name, e)
		}
		// Folded() computes the same affine map.
		k, b := f.Folded()
		f2 := f.Conv()
		setKernel(f2, k)
		z := f2.Forward(&nn.Context{}, []*tensor.Tensor{x})
		y := z.Clone()
		C := len(b)
		for i := range y.Data {
			y.Data[i] += b[i%C]
			switch fc.act {
			case "relu":
				y.Data[i] = max(y.Data[i], 0)
			case "relu6":
				y.Data[i] = min(max(y.Data[i], 0), 6)
			}
		}
		if e := maxRel(y.Data, want[0].Data); e > 1e-5 {
			t.Errorf("%s: conv(x, Folded kernel) + Folded bias differs by %.3g relative", fc.name, e)
		}
	}
}

// setKernel writes k into the inner layer's kernel.
func setKernel(l nn.Layer, k []float32) {
	copy(l.Params()[0].Value.Data, k)
}

func TestFoldedBatchStatsThenFrozen(t *testing.T) {
	for _, fc := range foldCases() {
		r := rand.New(rand.NewPCG(7, 8))
		fm, f := foldPair(t, fc, 0.9, 2, nil, nil, r)
		x := randTensor(r, append([]int{4}, fc.in...)...)
		bnF := fm.Layers()[1].(*nn.BatchNormalization)
		// Step 0: training on batch statistics, moving statistics updated.
		want, _ := fm.Forward(&nn.Context{Training: true, Step: 0}, x)
		got := f.Forward(&nn.Context{Training: true, Step: 0}, []*tensor.Tensor{x})
		if e := maxRel(got.Data, want[0].Data); e > 1e-5 {
			t.Errorf("%s: training before the freeze differs from Conv+BN(batch stats) by %.3g", fc.name, e)
		}
		if e := maxRel(f.bn.MovingVariance.Value.Data, bnF.MovingVariance.Value.Data); e > 1e-6 {
			t.Errorf("%s: moving variance not updated as BN does (%.3g)", fc.name, e)
		}
		if e := maxRel(f.bn.MovingMean.Value.Data, bnF.MovingMean.Value.Data); e > 1e-5 {
			t.Errorf("%s: moving mean not updated as BN does (%.3g)", fc.name, e)
		}
		if f.Frozen() {
			t.Errorf("%s: frozen at step 0", fc.name)
		}
		// Step 2 = FreezeBNAfter: training uses the moving statistics and
		// no longer updates them.
		mv := append([]float32(nil), f.bn.MovingVariance.Value.Data...)
		want, _ = fm.Forward(&nn.Context{}, x)
		got = f.Forward(&nn.Context{Training: true, Step: 2}, []*tensor.Tensor{x})
		if e := maxRel(got.Data, want[0].Data); e > 1e-5 {
			t.Errorf("%s: training after the freeze differs from Conv+BN(moving stats) by %.3g", fc.name, e)
		}
		if !f.Frozen() || maxRel(f.bn.MovingVariance.Value.Data, mv) != 0 {
			t.Errorf("%s: after the freeze: frozen %v, moving variance changed", fc.name, f.Frozen())
		}
	}
}

func TestFoldedGradients(t *testing.T) {
	for _, fc := range foldCases() {
		if fc.act != "" {
			fc.act = "" // kinks spoil finite differences; the masks are tested by the equality tests
		}
		for _, freeze := range []int{-1, 0} {
			r := rand.New(rand.NewPCG(9, 10))
			// Momentum 1 keeps the moving statistics fixed across passes.
			_, f := foldPair(t, fc, 1, freeze, nil, nil, r)
			x := randTensor(r, append([]int{3}, fc.in...)...)
			ctx := func() *nn.Context { return &nn.Context{Training: true, Step: 1} }
			t.Run(fc.name, func(t *testing.T) { gradCheck(t, f, ctx, 1e-2, 2e-2, x, r) })
		}
	}
}

// TestFoldedWithFakeQuant checks the folded layer with both fake quants on
// (8 bits): outputs on the output quantizer's grid and within a few steps
// of the float Conv+BN, the kernel on the per-channel int8 grid, and a
// gradient that flows to the input.
func TestFoldedWithFakeQuant(t *testing.T) {
	fc := foldCases()[0]
	r := rand.New(rand.NewPCG(11, 12))
	w := Default8Bit.Weight(3)
	o := Default8Bit.Activation()
	fm, f := foldPair(t, fc, 0.99, 0, &w, &o, r) // frozen: ranges from the moving-statistics outputs
	x := randTensor(r, append([]int{4}, fc.in...)...)
	f.Forward(&nn.Context{Training: true}, []*tensor.Tensor{x})
	got := f.Forward(&nn.Context{}, []*tensor.Tensor{x})
	want, _ := fm.Forward(nil, x)
	s, _ := f.OutputQuant().Scales()
	ws, _ := f.WeightQuant().Scales()
	if len(ws) != 4 {
		t.Fatalf("per-channel weight scales: %d, want 4", len(ws))
	}
	var worst float64
	for i := range got.Data {
		worst = math.Max(worst, math.Abs(float64(got.Data[i]-want[0].Data[i])))
	}
	if worst > 4*float64(s[0]) {
		t.Errorf("8-bit folded output off by %v (output scale %v)", worst, s[0])
	}
	// Every output is on the output grid.
	for _, v := range got.Data {
		q := float64(v) / float64(s[0])
		if math.Abs(q-math.Round(q)) > 1e-3 {
			t.Fatalf("output %v is not a multiple of the scale %v", v, s[0])
		}
	}
	// FakeQuantKernel / scales are integers in [-127, 127].
	k := f.FakeQuantKernel()
	for i, v := range k {
		q := float64(v) / float64(ws[i%4])
		if math.Abs(q-math.Round(q)) > 1e-3 || math.Abs(q) > 127.001 {
			t.Fatalf("kernel[%d] = %v is not an int8 multiple of %v", i, v, ws[i%4])
		}
	}
	f.Forward(&nn.Context{Training: true}, []*tensor.Tensor{x})
	dy := tensor.New(got.Shape...)
	for i := range dy.Data {
		dy.Data[i] = 1
	}
	dx := f.Backward(&nn.Context{Training: true}, dy)[0]
	var g float64
	for _, v := range dx.Data {
		g += math.Abs(float64(v))
	}
	if g == 0 {
		t.Error("no gradient reaches the input")
	}
}
