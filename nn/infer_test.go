package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// inferCase is a model for the inference-plan tests.
type inferCase struct {
	name  string
	build func(t *testing.T) *Model
}

// perturbBN gives every BatchNormalization of m random statistics and
// affine parameters (some outputs above 6, some negative), so that the
// fused normalizations and activations are exercised.
func perturbBN(m *Model, r *rand.Rand) {
	for _, l := range m.Layers() {
		if bn, ok := l.(*BatchNormalization); ok {
			for i := range bn.Gamma.Value.Data {
				bn.Gamma.Value.Data[i] = float32(2 + r.NormFloat64())
				bn.Beta.Value.Data[i] = float32(r.NormFloat64())
				bn.MovingMean.Value.Data[i] = float32(0.3 * r.NormFloat64())
				bn.MovingVariance.Value.Data[i] = float32(0.5 + r.Float64())
			}
		}
		for _, p := range l.Params() {
			if p.Name == "bias" {
				for i := range p.Value.Data {
					p.Value.Data[i] = float32(0.2 * r.NormFloat64())
				}
			}
		}
	}
}

// inferCases are small models with every fusion of the plan and the
// layers it computes, and some it leaves to the layers.
func inferCases() []inferCase {
	conv := func(f, k, s int, pad string, bias bool) *Conv2D {
		c := NewConv2D(f, k, k)
		c.Strides, c.Padding, c.UseBias = [2]int{s, s}, pad, bias
		return c
	}
	dw := func(s int, pad string) *DepthwiseConv2D {
		d := NewDepthwiseConv2D(3, 3)
		d.Strides, d.Padding, d.UseBias = [2]int{s, s}, pad, false
		return d
	}
	return []inferCase{
		{"residual", func(t *testing.T) *Model {
			// Conv+BN+ReLU, Conv+BN + Add(shortcut) + ReLU, a projection
			// shortcut computed first (ResNet's order), GAP, Dense+BN+ReLU6.
			x0 := Input(9, 11, 5)
			sc := Call(NewBatchNormalization(), Call(conv(24, 1, 2, "valid", false), x0))
			y := Call(NewReLU(), Call(NewBatchNormalization(), Call(conv(24, 3, 2, "same", true), x0)))
			y = Call(NewBatchNormalization(), Call(conv(24, 3, 1, "same", false), y))
			y = Call(NewReLU(), Call(NewAdd(), sc, y))
			z := Call(NewDense(40), Call(NewGlobalAveragePooling2D(), y))
			z = Call(NewReLU6(), Call(NewBatchNormalization(), z))
			return must(t)(NewModel([]*Node{x0}, []*Node{Call(NewDense(7), z)}))
		}},
		{"inverted-residual", func(t *testing.T) *Model {
			// MobileNetV2's blocks: ZeroPadding2D + stride-2 depthwise, 1x1
			// expansions and projections, the Add with the block input
			// first, 17 and 40 channels (masked vector tails).
			x0 := Input(14, 13, 3)
			x := Call(NewReLU6(), Call(NewBatchNormalization(), Call(conv(17, 3, 2, "same", false), x0)))
			x = Call(NewZeroPadding2D(1, 1, 0, 1), x)
			x = Call(NewReLU6(), Call(NewBatchNormalization(), Call(dw(2, "valid"), x)))
			b := Call(NewBatchNormalization(), Call(conv(16, 1, 1, "same", false), x))
			y := Call(NewReLU6(), Call(NewBatchNormalization(), Call(conv(40, 1, 1, "same", false), b)))
			y = Call(NewReLU6(), Call(NewBatchNormalization(), Call(dw(1, "same"), y)))
			y = Call(NewBatchNormalization(), Call(conv(16, 1, 1, "same", false), y))
			y = Call(NewAdd(), b, y)
			y = Call(NewGlobalAveragePooling2D(), y)
			return must(t)(NewModel([]*Node{x0}, []*Node{Call(NewDense(5), y)}))
		}},
		{"stem", func(t *testing.T) *Model {
			// ResNet's stem: a padded 7x7 stride-2 convolution (padding
			// fused), a ZeroPadding2D + max pool (not fused), Flatten,
			// Dropout, a Dense with bias.
			x0 := Input(20, 18, 3)
			x := Call(NewZeroPadding2D(3, 3, 3, 3), x0)
			x = Call(NewReLU(), Call(NewBatchNormalization(), Call(conv(20, 7, 2, "valid", false), x)))
			x = Call(NewZeroPadding2D(1, 1, 1, 1), x)
			pool := NewMaxPooling2D(3, 3)
			pool.Strides = [2]int{2, 2}
			x = Call(pool, x)
			same := NewMaxPooling2D(2, 2)
			same.Padding = "same"
			x = Call(same, x)
			x = Call(NewDropout(0.3), Call(NewFlatten(), x))
			return must(t)(NewModel([]*Node{x0}, []*Node{Call(NewDense(6), x)}))
		}},
		{"outputs", func(t *testing.T) *Model {
			// Two inputs, three outputs (an intermediate BN that therefore
			// fuses nothing, a Flatten alias, a Dense), an Add of three
			// inputs, a BN after an Add, a conv and ReLU without BN, an
			// Activation linear.
			a, bIn := Input(6, 6, 4), Input(6, 6, 4)
			c1 := Call(NewReLU(), Call(conv(4, 3, 1, "same", true), a))
			bn := Call(NewBatchNormalization(), Call(conv(4, 1, 1, "valid", false), bIn))
			lin, _ := NewActivation("linear")
			s := Call(lin, Call(NewAdd(), c1, bn, a))
			s = Call(NewReLU6(), Call(NewBatchNormalization(), s))
			f := Call(NewFlatten(), s)
			return must(t)(NewModel([]*Node{a, bIn}, []*Node{bn, f, Call(NewDense(3), f)}))
		}},
		{"layer-backed", func(t *testing.T) *Model {
			// Layers the plan runs through their own Forward: Concatenate,
			// AveragePooling2D, a depthwise convolution with multiplier 2, a
			// sigmoid, a grouped convolution.
			x0 := Input(8, 8, 6)
			a := Call(NewReLU(), Call(conv(8, 3, 1, "same", false), x0))
			g := conv(6, 3, 1, "same", true)
			g.Groups = 2
			bb := Call(g, x0)
			x := Call(NewConcatenate(), a, bb)
			x = Call(NewAveragePooling2D(2, 2), x)
			dm := NewDepthwiseConv2D(3, 3)
			dm.Padding, dm.DepthMultiplier = "same", 2
			x = Call(dm, x)
			sig, _ := NewActivation("sigmoid")
			x = Call(sig, Call(NewBatchNormalization(), x))
			x = Call(NewBatchNormalization(), Call(conv(96, 3, 1, "same", false), x))
			return must(t)(NewModel([]*Node{x0}, []*Node{Call(NewDense(4), Call(NewFlatten(), x))}))
		}},
		{"small-images", func(t *testing.T) *Model {
			// Products of fewer rows than a tile, and wide ones split by
			// columns at batch 1: a 3x3 image, 100 and 70 filters.
			x0 := Input(3, 3, 16)
			x := Call(NewReLU(), Call(NewBatchNormalization(), Call(conv(100, 3, 1, "same", false), x0)))
			x = Call(NewBatchNormalization(), Call(conv(70, 1, 1, "valid", true), x))
			x = Call(NewReLU6(), Call(NewBatchNormalization(), Call(dw(1, "same"), x)))
			return must(t)(NewModel([]*Node{x0}, []*Node{Call(NewDense(9), Call(NewFlatten(), x))}))
		}},
	}
}

// sameOutputs fails unless got and want hold the same values bit for bit
// (any NaN matching any NaN).
func sameOutputs(t *testing.T, what string, got, want []*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !got[i].Shape.Equal(want[i].Shape) {
			t.Fatalf("%s: output %d has shape %v, want %v", what, i, got[i].Shape, want[i].Shape)
		}
		for j, v := range want[i].Data {
			g := got[i].Data[j]
			if math.Float32bits(g) != math.Float32bits(v) && !(g != g && v != v) {
				t.Fatalf("%s: output %d value %d = %v, the layers give %v", what, i, j, g, v)
			}
		}
	}
}

// TestInferMatchesLayers checks the inference plan against the layers run
// one by one, bit for bit, on every kernel path, at batch sizes that run
// the ops split across threads and the batch split across threads, in
// chunks of 2 samples or not, with 1 and 2 threads.
func TestInferMatchesLayers(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	defer func() { inferMaxChunk = 0 }()
	for _, tc := range inferCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build(t)
			r := rand.New(rand.NewPCG(11, 12))
			perturbBN(m, r)
			p := m.inferPlanOf()
			if p == nil {
				t.Fatal("no inference plan for built-in layers")
			}
			for _, path := range kernels.SupportedPaths() {
				restore := kernels.SetPath(path)
				for _, threads := range []int{1, 2} {
					kernels.SetThreads(threads)
					for _, nc := range [][2]int{{1, 0}, {2, 0}, {9, 0}, {9, 2}} {
						n := nc[0]
						inferMaxChunk = nc[1] // 2: chunks of 2 samples
						var in []*tensor.Tensor
						for _, s := range m.Inputs() {
							in = append(in, randTensor(r, append([]int{n}, s...)...))
						}
						c := &Context{}
						want, err := m.forwardLayers(c, in)
						if err != nil {
							t.Fatal(err)
						}
						var wantCopy []*tensor.Tensor
						for _, w := range want {
							wantCopy = append(wantCopy, w.Clone())
						}
						got, err := m.Forward(c, in...)
						if err != nil {
							t.Fatal(err)
						}
						sameOutputs(t, fmt.Sprintf("%v threads=%d n=%d chunk cap %d", path, threads, n, nc[1]), got, wantCopy)
						if split := p.split && threads == 2 && n >= 2*inferSplitMin; split != (p.per < n) {
							t.Errorf("threads=%d n=%d: batch split %v, want %v", threads, n, !split, split)
						}
					}
				}
				restore()
			}
		})
	}
}

// TestInferPlanShape checks what the plan fuses and splits on the cases:
// the number of ops, and whether the batch can be split.
func TestInferPlanShape(t *testing.T) {
	want := map[string]struct {
		ops   int
		split bool
	}{
		// conv+bn (shortcut); conv+bn+relu; conv+bn+add+relu; gap;
		// dense+bn+relu6; dense.
		"residual": {6, true},
		// conv+bn+relu6; pad+dw+bn+relu6; conv+bn; conv+bn+relu6;
		// dw+bn+relu6; conv+bn+add; gap; dense.
		"inverted-residual": {8, true},
		// pad+conv+bn+relu; pad; maxpool; maxpool 'same'; dense.
		"stem": {5, true},
		// conv+relu; conv+bn (an output); add of three; bn+relu6 (after
		// the linear alias); dense (after the Flatten alias).
		"outputs": {5, true},
		// conv+relu; grouped conv, concatenate, average pool, depthwise
		// with multiplier 2 (layers); bn; sigmoid (layer); conv+bn; dense.
		"layer-backed": {9, false},
		"small-images": {4, true},
	}
	for _, tc := range inferCases() {
		p := tc.build(t).inferPlanOf()
		w := want[tc.name]
		if p == nil || len(p.ops) != w.ops || p.split != w.split {
			var ops []string
			if p != nil {
				for _, op := range p.ops {
					ops = append(ops, fmt.Sprintf("%T", op))
				}
			}
			t.Errorf("%s: plan ops %v (split %v), want %d ops (split %v)", tc.name, ops, p != nil && p.split, w.ops, w.split)
		}
	}
}

// TestInferNoAllocs checks that an inference Forward allocates nothing once
// its buffers have the batch's size, the batch split or not.
func TestInferNoAllocs(t *testing.T) {
	if raceEnabledC() {
		t.Skip("allocation counts are meaningless under -race")
	}
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(2)
	m := inferCases()[1].build(t)
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 8} {
		x := randTensor(r, n, 14, 13, 3)
		c := &Context{}
		if _, err := m.Forward(c, x); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := m.Forward(c, x); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("batch %d: %v allocations per inference Forward, want 0", n, allocs)
		}
	}
}

// TestInferFollowsWeights checks that the plan reads the weights and
// statistics of every call (it keeps no stale packed copy): after they
// change, its outputs are still the layers'.
func TestInferFollowsWeights(t *testing.T) {
	m := inferCases()[0].build(t)
	r := rand.New(rand.NewPCG(3, 5))
	x := randTensor(r, 2, 9, 11, 5)
	c := &Context{}
	for round := 0; round < 3; round++ {
		perturbBN(m, r)
		for _, p := range m.Params() {
			if p.Name == "kernel" {
				p.Value.Data[round] += 0.5
			}
		}
		got, err := m.Forward(c, x)
		if err != nil {
			t.Fatal(err)
		}
		g := got[0].Clone()
		want, err := m.forwardLayers(c, []*tensor.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		sameOutputs(t, fmt.Sprintf("round %d", round), []*tensor.Tensor{g}, want)
	}
}

// TestInferBackward checks that a Backward after an inference Forward
// (which ran the plan) gives the gradients of one after the layers'
// Forward.
func TestInferBackward(t *testing.T) {
	m := inferCases()[0].build(t)
	r := rand.New(rand.NewPCG(2, 9))
	perturbBN(m, r)
	x := randTensor(r, 3, 9, 11, 5)
	dOut := randTensor(r, 3, 7)
	c := &Context{}
	grads := func() [][]float32 {
		var gs [][]float32
		for _, p := range m.Params() {
			if p.Grad != nil {
				gs = append(gs, append([]float32(nil), p.Grad.Data...))
			}
		}
		return gs
	}
	if _, err := m.forwardLayers(c, []*tensor.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	m.forwarded = true
	if err := m.Backward(c, dOut); err != nil {
		t.Fatal(err)
	}
	want := grads()
	if _, err := m.Forward(c, x); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(c, dOut); err != nil {
		t.Fatal(err)
	}
	got := grads()
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("gradient %d[%d] = %v after the plan's Forward, %v after the layers'", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestInferNoPlanForCustomLayers checks that a model with a layer of a
// type outside the package runs its layers (no plan).
func TestInferNoPlanForCustomLayers(t *testing.T) {
	m := must(t)(NewSequential(tensor.Shape{4}, NewDense(3), &testScale{}))
	if m.inferPlanOf() != nil {
		t.Error("a model with a custom layer got an inference plan")
	}
	if _, err := m.Forward(nil, tensor.New(2, 4)); err != nil {
		t.Error(err)
	}
}

// TestInferRoundingBounded checks the two places where the plan may round
// differently from the layers (see infer.go), and bounds the difference:
// a Conv2D whose layer runs chunks of fewer rows than a tile (here forced
// by a tiny chunk bound: one 3x3 image of 9 pixels per chunk, row kernel,
// where the plan's product of the batch's 45 rows uses the tile kernel)
// stays within float rounding of the layers (relative 1e-5 of the sum of
// the magnitudes); and a ZeroPadding2D fused into a depthwise convolution
// (padded taps skipped, not added as zero products) gives equal values,
// a zero's sign aside.
func TestInferRoundingBounded(t *testing.T) {
	defer func(v int) { convChunkFloats = v }(convChunkFloats)
	convChunkFloats = 1
	r := rand.New(rand.NewPCG(4, 4))
	x0 := Input(3, 3, 40)
	c := NewConv2D(64, 3, 3)
	c.Padding = "same"
	m := must(t)(NewModel([]*Node{x0}, []*Node{Call(c, x0)}))
	x := randTensor(r, 5, 3, 3, 40)
	want, err := m.forwardLayers(&Context{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	w := want[0].Clone()
	got, err := m.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	// The magnitude of each output's terms: the same convolution of |x|
	// with |kernel| and |bias|; the tolerance is 1e-5 of it, far above the
	// float32 rounding of a sum of 360 terms in two orders and far below
	// a wrong term.
	xa := Input(3, 3, 40)
	ca := NewConv2D(64, 3, 3)
	ca.Padding = "same"
	ma := must(t)(NewModel([]*Node{xa}, []*Node{Call(ca, xa)}))
	for i, v := range c.Kernel.Value.Data {
		ca.Kernel.Value.Data[i] = float32(math.Abs(float64(v)))
	}
	for i, v := range c.Bias.Value.Data {
		ca.Bias.Value.Data[i] = float32(math.Abs(float64(v)))
	}
	xAbs := x.Clone()
	for i, v := range xAbs.Data {
		xAbs.Data[i] = float32(math.Abs(float64(v)))
	}
	mag, err := ma.forwardLayers(&Context{}, []*tensor.Tensor{xAbs})
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i, v := range w.Data {
		d := math.Abs(float64(got[0].Data[i]) - float64(v))
		if tol := 1e-5 * float64(mag[0].Data[i]); d > tol {
			t.Fatalf("output %d = %v, the layers give %v (tolerance %g)", i, got[0].Data[i], v, tol)
		}
		if d != 0 {
			differ++
		}
	}
	t.Logf("chunked Conv2D: %d of %d outputs differ in rounding", differ, len(w.Data))

	// Fused padding: zeros in the input, negative weights, no bias.
	x1 := Input(6, 6, 16)
	d := NewDepthwiseConv2D(3, 3)
	d.Strides, d.UseBias = [2]int{2, 2}, false
	m = must(t)(NewModel([]*Node{x1}, []*Node{Call(d, Call(NewZeroPadding2D(0, 1, 0, 1), x1))}))
	for i := range d.DepthwiseKernel.Value.Data {
		d.DepthwiseKernel.Value.Data[i] = -1 - float32(i%3)
	}
	x = randTensor(r, 2, 6, 6, 16)
	for i := range x.Data {
		if i%3 == 0 {
			x.Data[i] = 0
		}
	}
	want, err = m.forwardLayers(&Context{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	w = want[0].Clone()
	if got, err = m.Forward(nil, x); err != nil {
		t.Fatal(err)
	}
	for i, v := range w.Data {
		if got[0].Data[i] != v {
			t.Fatalf("fused padding: output %d = %v, the layers give %v", i, got[0].Data[i], v)
		}
	}
}

// TestInferOpTimes checks the profiling helper: one entry per op of the
// plan, in order, the products named after their layers, and the outputs
// of a Forward after it still the layers'.
func TestInferOpTimes(t *testing.T) {
	m := inferCases()[0].build(t)
	r := rand.New(rand.NewPCG(5, 5))
	x := randTensor(r, 3, 9, 11, 5)
	ts := InferOpTimes(m, x, 2, nil)
	p := m.inferPlanOf()
	if len(ts) != len(p.ops) {
		t.Fatalf("%d op times for %d ops", len(ts), len(p.ops))
	}
	for i, o := range ts {
		if g, ok := p.ops[i].(*gemmOp); ok && (o.Layer == "" || o.Op != "*nn.gemmOp") {
			t.Errorf("op %d (%v): named %q %q", i, g.out, o.Op, o.Layer)
		}
		if o.Time < 0 {
			t.Errorf("op %d: time %v", i, o.Time)
		}
	}
	got, err := m.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	g := got[0].Clone()
	want, err := m.forwardLayers(&Context{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "after InferOpTimes", []*tensor.Tensor{g}, want)
}
