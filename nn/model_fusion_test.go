package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// fusionModel builds a small CNN with two BatchNormalization + activation
// pairs, act1 and act2 new activation layers, weights from seed and then
// perturbed so that some BN outputs exceed 6 (ReLU6's cap).
func fusionModel(t *testing.T, act1, act2 Layer) *Model {
	t.Helper()
	m := must(t)(NewSequential(tensor.Shape{7, 6, 3},
		NewConv2D(4, 3, 3), NewBatchNormalization(), act1,
		NewConv2D(5, 2, 2), NewBatchNormalization(), act2,
		NewFlatten(), NewDense(3)))
	m.InitWeights(5)
	r := rand.New(rand.NewPCG(7, 8))
	for _, l := range m.Layers() {
		if bn, ok := l.(*BatchNormalization); ok {
			for i := range bn.Gamma.Value.Data {
				bn.Gamma.Value.Data[i] = float32(3 + r.NormFloat64())
				bn.Beta.Value.Data[i] = float32(r.NormFloat64())
			}
		}
	}
	return m
}

// fusedSteps counts the model's BN steps that compute their activation.
func fusedSteps(m *Model) (bn, act int) {
	for _, st := range m.steps {
		if st.act != nil {
			bn++
		}
		if st.fused {
			act++
		}
	}
	return bn, act
}

// runLayers runs a Sequential model's layers one by one, each with its own
// Forward and Backward (no fusion), and returns the output.
func runLayers(c *Context, m *Model, x, dOut *tensor.Tensor) *tensor.Tensor {
	ls := m.Layers()
	h := x
	for _, l := range ls {
		h = l.Forward(c, []*tensor.Tensor{h})
	}
	out := h.Clone()
	if dOut != nil {
		d := dOut
		for i := len(ls) - 1; i >= 0; i-- {
			d = ls[i].Backward(c, d)[0]
		}
	}
	return out
}

// fusionSameBits fails the test unless a and b are equal bit for bit.
func fusionSameBits(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values vs %d", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s[%d]: fused %v, unfused %v", what, i, a[i], b[i])
		}
	}
}

func TestBNActFusionBitIdentical(t *testing.T) {
	cases := []struct {
		name       string
		act1, act2 func() Layer
	}{
		{"relu", func() Layer { return NewReLU() }, func() Layer { return NewReLU() }},
		{"relu6", func() Layer { return NewReLU6() }, func() Layer { return NewReLU6() }},
		{"activation", func() Layer { a, _ := NewActivation("relu6"); return a }, func() Layer { a, _ := NewActivation("relu"); return a }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fused := fusionModel(t, tc.act1(), tc.act2())
			plain := fusionModel(t, tc.act1(), tc.act2())
			if bn, act := fusedSteps(fused); bn != 2 || act != 2 {
				t.Fatalf("fused %d BN and %d activation steps, want 2 and 2", bn, act)
			}
			r := rand.New(rand.NewPCG(1, 2))
			var above6, zeros int
			for step := 0; step < 3; step++ {
				x := randTensor(r, 5, 7, 6, 3)
				dOut := randTensor(r, 5, 3)
				c := &Context{Training: true, Step: step}
				outs, err := fused.Forward(c, x)
				if err != nil {
					t.Fatal(err)
				}
				got := outs[0].Clone()
				if err := fused.Backward(c, dOut); err != nil {
					t.Fatal(err)
				}
				want := runLayers(c, plain, x, dOut)
				fusionSameBits(t, "output", got.Data, want.Data)
				for i, p := range fused.Params() {
					q := plain.Params()[i]
					fusionSameBits(t, "value of "+p.Name, p.Value.Data, q.Value.Data)
					if p.Grad != nil {
						fusionSameBits(t, "gradient of "+p.Name, p.Grad.Data, q.Grad.Data)
					}
				}
				for _, l := range fused.Layers() {
					if _, ok := l.(*BatchNormalization); ok {
						continue
					}
					if a, ok := l.(interface{ fusedKind() actKind }); ok && a.fusedKind() != actLinear {
						y := fused.vals[len(fused.inputs)+layerIndex(fused, l)]
						for _, v := range y.Data {
							if v > 6 {
								above6++
							}
							if v == 0 || v == 6 {
								zeros++
							}
						}
					}
				}
			}
			if zeros == 0 || tc.name == "relu" && above6 == 0 {
				t.Errorf("test data never hit the activation's clamps (%d clamped, %d above 6)", zeros, above6)
			}
			// Inference uses the moving statistics.
			x := randTensor(r, 2, 7, 6, 3)
			outs, err := fused.Forward(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			fusionSameBits(t, "inference output", outs[0].Data, runLayers(&Context{}, plain, x, nil).Data)
		})
	}
}

// layerIndex returns l's index in m.Layers().
func layerIndex(m *Model, l Layer) int {
	for i, x := range m.Layers() {
		if x == l {
			return i
		}
	}
	return -1
}

func TestBNActFusionOnlyWhenAlone(t *testing.T) {
	// The BN output is also a model output: no fusion.
	x := Input(4)
	bn := Call(NewBatchNormalization(), Call(NewDense(6), x))
	y := Call(NewReLU(), bn)
	m := must(t)(NewModel([]*Node{x}, []*Node{y, bn}))
	if b, a := fusedSteps(m); b != 0 || a != 0 {
		t.Errorf("BN read by an output: fused %d/%d steps", b, a)
	}
	// The BN output feeds the ReLU and another layer: no fusion.
	x = Input(4)
	bn = Call(NewBatchNormalization(), Call(NewDense(6), x))
	sum := Call(NewAdd(), Call(NewReLU(), bn), Call(NewDense(6), bn))
	m = must(t)(NewModel([]*Node{x}, []*Node{sum}))
	if b, a := fusedSteps(m); b != 0 || a != 0 {
		t.Errorf("BN read by two layers: fused %d/%d steps", b, a)
	}
	// A tanh after BN is not fused; a relu after it is, and runs.
	tanh, err := NewActivation("tanh")
	if err != nil {
		t.Fatal(err)
	}
	m = must(t)(NewSequential(tensor.Shape{4}, NewBatchNormalization(), tanh, NewBatchNormalization(), NewReLU()))
	if b, a := fusedSteps(m); b != 1 || a != 1 {
		t.Errorf("BN, tanh, BN, ReLU: fused %d/%d steps, want 1/1", b, a)
	}
	r := rand.New(rand.NewPCG(3, 3))
	in, dOut := randTensor(r, 8, 4), randTensor(r, 8, 4)
	c := &Context{Training: true}
	outs, err := m.Forward(c, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(c, dOut); err != nil {
		t.Fatal(err)
	}
	for _, v := range outs[0].Data {
		if v < 0 {
			t.Fatalf("ReLU output %v < 0", v)
		}
	}
}

// BenchmarkBNReLU is a training Forward and Backward of BatchNormalization
// then ReLU on mnist-cnn's conv2 output at batch 128, fused by the model
// executor or run as two layers.
func BenchmarkBNReLU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, 128, 24, 24, 64)
	dOut := randTensor(r, 128, 24, 24, 64)
	for _, fuse := range []bool{true, false} {
		name := "fused"
		if !fuse {
			name = "layers"
		}
		b.Run(name, func(b *testing.B) {
			m, err := NewSequential(tensor.Shape{24, 24, 64}, NewBatchNormalization(), NewReLU())
			if err != nil {
				b.Fatal(err)
			}
			c := &Context{Training: true}
			for i := 0; i < b.N+1; i++ {
				if i == 1 {
					b.ResetTimer()
				}
				if !fuse {
					runLayers(c, m, x, dOut)
					continue
				}
				if _, err := m.Forward(c, x); err != nil {
					b.Fatal(err)
				}
				if err := m.Backward(c, dOut); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// poolFusionModel builds conv -> BN -> act -> max pool -> flatten -> dense
// for (h, w, 3) inputs with c filters, weights from seed 5 and BN scales
// large enough for ReLU6 to clamp.
func poolFusionModel(t *testing.T, h, w, c int, act, pool Layer) *Model {
	t.Helper()
	m := must(t)(NewSequential(tensor.Shape{h, w, 3},
		NewConv2D(c, 3, 3), NewBatchNormalization(), act, pool,
		NewFlatten(), NewDense(3)))
	m.InitWeights(5)
	r := rand.New(rand.NewPCG(7, 9))
	for _, l := range m.Layers() {
		if bn, ok := l.(*BatchNormalization); ok {
			for i := range bn.Gamma.Value.Data {
				bn.Gamma.Value.Data[i] = float32(3 + r.NormFloat64())
				bn.Beta.Value.Data[i] = float32(r.NormFloat64())
			}
		}
	}
	return m
}

// poolFusedSteps counts the BN steps that also compute a max pooling.
func poolFusedSteps(m *Model) int {
	n := 0
	for _, st := range m.steps {
		if st.pool != nil {
			n++
		}
	}
	return n
}

// TestBNActPoolFusionBitIdentical checks that BatchNormalization, ReLU or
// ReLU6 and a tiling MaxPooling2D fused into one pass each way give the
// outputs, gradients and moving statistics of the layers run one by one,
// bit for bit, on 1, 2 and 3 threads: channel counts around the 16-wide
// vectors, odd images whose last row and column no window covers, "same"
// padding, 3x3 windows, and BN reduction chunks that cut an image in two.
func TestBNActPoolFusionBitIdentical(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	newPool := func(k int, padding string) Layer {
		p := NewMaxPooling2D(k, k)
		p.Padding = padding
		return p
	}
	cases := []struct {
		name    string
		n, h, w int
		c       int
		act     func() Layer
		pool    func() Layer
	}{
		{"relu_c20_odd", 7, 19, 18, 20, func() Layer { return NewReLU() }, func() Layer { return newPool(2, "valid") }},
		{"relu6_c5_same", 3, 10, 9, 5, func() Layer { return NewReLU6() }, func() Layer { return newPool(2, "same") }},
		{"act_relu_c32_3x3", 4, 13, 11, 32, func() Layer { a, _ := NewActivation("relu"); return a }, func() Layer { return newPool(3, "valid") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, threads := range []int{1, 2, 3} {
				kernels.SetThreads(threads)
				fused := poolFusionModel(t, tc.h, tc.w, tc.c, tc.act(), tc.pool())
				plain := poolFusionModel(t, tc.h, tc.w, tc.c, tc.act(), tc.pool())
				if n := poolFusedSteps(fused); n != 1 {
					t.Fatalf("%d BN steps fuse the pooling, want 1", n)
				}
				bn := fused.Layers()[1].(*BatchNormalization)
				r := rand.New(rand.NewPCG(1, 2))
				for step := 0; step < 2; step++ {
					x := randTensor(r, tc.n, tc.h, tc.w, 3)
					dOut := randTensor(r, tc.n, 3)
					c := &Context{Training: true, Step: step}
					outs, err := fused.Forward(c, x)
					if err != nil {
						t.Fatal(err)
					}
					if step == 0 && bn.stats.Chunks() < 2 && tc.name == "relu_c20_odd" {
						t.Fatalf("BN reduces in %d chunk(s); the case needs chunks that cut an image", bn.stats.Chunks())
					}
					got := outs[0].Clone()
					if err := fused.Backward(c, dOut); err != nil {
						t.Fatal(err)
					}
					want := runLayers(c, plain, x, dOut)
					fusionSameBits(t, "output", got.Data, want.Data)
					for i, p := range fused.Params() {
						q := plain.Params()[i]
						fusionSameBits(t, "value of "+p.Name, p.Value.Data, q.Value.Data)
						if p.Grad != nil {
							fusionSameBits(t, "gradient of "+p.Name, p.Grad.Data, q.Grad.Data)
						}
					}
					// The gradient reaching the first convolution's output.
					fusionSameBits(t, "BN input gradient", bn.dx.Data, plain.Layers()[1].(*BatchNormalization).dx.Data)
				}
				x := randTensor(r, 2, tc.h, tc.w, 3)
				outs, err := fused.Forward(nil, x)
				if err != nil {
					t.Fatal(err)
				}
				fusionSameBits(t, "inference output", outs[0].Data, runLayers(&Context{}, plain, x, nil).Data)
			}
		})
	}
}

// TestBNActPoolFusionOnlyWhenTiled checks that overlapping windows, a
// pooling read by another layer too, or an activation that is a model
// output keep the pooling apart.
func TestBNActPoolFusionOnlyWhenTiled(t *testing.T) {
	overlap := NewMaxPooling2D(2, 2)
	overlap.Strides = [2]int{1, 1}
	m := poolFusionModel(t, 8, 8, 4, NewReLU(), overlap)
	if n := poolFusedSteps(m); n != 0 {
		t.Errorf("overlapping windows: %d pooling fusions", n)
	}
	x := Input(8, 8, 3)
	a := Call(NewReLU(), Call(NewBatchNormalization(), Call(NewConv2D(4, 3, 3), x)))
	p := Call(NewMaxPooling2D(2, 2), a)
	m = must(t)(NewModel([]*Node{x}, []*Node{Call(NewDense(2), Call(NewFlatten(), p)), a}))
	if n := poolFusedSteps(m); n != 0 {
		t.Errorf("activation read by an output: %d pooling fusions", n)
	}
}
