package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

func TestBatchNormGradCheck(t *testing.T) {
	t.Run("training rank 3", func(t *testing.T) {
		gradCheck(t, NewBatchNormalization(), 4, true, 1e-2, 2e-2, tensor.Shape{3, 3, 2})
	})
	t.Run("training rank 1", func(t *testing.T) {
		gradCheck(t, NewBatchNormalization(), 6, true, 1e-2, 2e-2, tensor.Shape{5})
	})
	t.Run("inference rank 3", func(t *testing.T) {
		gradCheck(t, NewBatchNormalization(), 3, false, 1e-2, 2e-2, tensor.Shape{2, 3, 4})
	})
	t.Run("inference rank 1", func(t *testing.T) {
		gradCheck(t, NewBatchNormalization(), 3, false, 1e-2, 2e-2, tensor.Shape{4})
	})
}

// randTensorC returns a tensor of normal values scaled by sd around mean.
func randTensorC(r *rand.Rand, mean, sd float64, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(mean + sd*r.NormFloat64())
	}
	return x
}

// bnNaiveStats returns per-channel mean and biased variance in float64, two
// passes.
func bnNaiveStats(x *tensor.Tensor) (mean, variance []float64) {
	c := x.Shape[len(x.Shape)-1]
	m := len(x.Data) / c
	mean = make([]float64, c)
	variance = make([]float64, c)
	for i, v := range x.Data {
		mean[i%c] += float64(v)
	}
	for j := range mean {
		mean[j] /= float64(m)
	}
	for i, v := range x.Data {
		d := float64(v) - mean[i%c]
		variance[i%c] += d * d
	}
	for j := range variance {
		variance[j] /= float64(m)
	}
	return mean, variance
}

func TestBatchNormMovingStatistics(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// Large enough for several reduction chunks, with a mean far from 0.
	// Step 0 uses the warmed-up decay (1+0)/(10+0) = 0.1; from step 80 on
	// (1+80)/(10+80) = 0.9 = Momentum.
	for _, tc := range []struct {
		shape []int
		step  int
		decay float64
	}{{[]int{5, 3}, 100, 0.9}, {[]int{8, 20, 20, 24}, 1000, 0.9}, {[]int{5, 3}, 0, 0.1}, {[]int{5, 3}, 2, 0.25}} {
		shape := tc.shape
		b := NewBatchNormalization()
		b.Momentum = 0.9
		if _, err := b.Build([]tensor.Shape{shape[1:]}); err != nil {
			t.Fatal(err)
		}
		b.InitWeights(r)
		c := shape[len(shape)-1]
		mm0 := make([]float32, c)
		mv0 := make([]float32, c)
		for j := range mm0 {
			mm0[j] = float32(r.NormFloat64())
			mv0[j] = float32(0.5 + r.Float64())
		}
		copy(b.MovingMean.Value.Data, mm0)
		copy(b.MovingVariance.Value.Data, mv0)
		x := randTensorC(r, 50, 3, shape...)
		b.Forward(&Context{Training: true, Step: tc.step}, []*tensor.Tensor{x})
		mean, variance := bnNaiveStats(x)
		bm, bv := b.Stats()
		for j := 0; j < c; j++ {
			if math.Abs(float64(bm[j])-mean[j]) > 1e-5*math.Abs(mean[j]) || math.Abs(float64(bv[j])-variance[j]) > 1e-5*variance[j] {
				t.Fatalf("%v: Stats channel %d: %v %v, want %v %v", shape, j, bm[j], bv[j], mean[j], variance[j])
			}
			d := tc.decay
			wm := float64(mm0[j])*d + mean[j]*(1-d)
			wv := float64(mv0[j])*d + variance[j]*(1-d)
			if math.Abs(float64(b.MovingMean.Value.Data[j])-wm) > 1e-5*math.Abs(wm) ||
				math.Abs(float64(b.MovingVariance.Value.Data[j])-wv) > 1e-5*wv {
				t.Fatalf("%v: moving stats channel %d: %v %v, want %v %v", shape, j,
					b.MovingMean.Value.Data[j], b.MovingVariance.Value.Data[j], wm, wv)
			}
		}
		// The training output is normalized with the batch statistics.
		out := b.out
		g, be := b.Gamma.Value.Data, b.Beta.Value.Data
		for i, v := range x.Data {
			j := i % c
			want := float64(g[j])*(float64(v)-mean[j])/math.Sqrt(variance[j]+b.Epsilon) + float64(be[j])
			if math.Abs(float64(out.Data[i])-want) > 1e-4 {
				t.Fatalf("%v: out[%d] = %v, want %v", shape, i, out.Data[i], want)
			}
		}
	}
}

func TestBatchNormInference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	b := NewBatchNormalization()
	if _, err := b.Build([]tensor.Shape{{4, 5, 6}}); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 6; j++ {
		b.Gamma.Value.Data[j] = float32(r.NormFloat64())
		b.Beta.Value.Data[j] = float32(r.NormFloat64())
		b.MovingMean.Value.Data[j] = float32(r.NormFloat64())
		b.MovingVariance.Value.Data[j] = float32(0.1 + r.Float64())
	}
	mm := append([]float32(nil), b.MovingMean.Value.Data...)
	x := randTensorC(r, 0, 2, 3, 4, 5, 6)
	out := b.Forward(&Context{Training: false}, []*tensor.Tensor{x})
	for i, v := range x.Data {
		j := i % 6
		want := float64(b.Gamma.Value.Data[j])*(float64(v)-float64(b.MovingMean.Value.Data[j]))/
			math.Sqrt(float64(b.MovingVariance.Value.Data[j])+1e-3) + float64(b.Beta.Value.Data[j])
		if math.Abs(float64(out.Data[i])-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("out[%d] = %v, want %v", i, out.Data[i], want)
		}
	}
	for j := range mm {
		if b.MovingMean.Value.Data[j] != mm[j] {
			t.Fatal("inference Forward changed the moving mean")
		}
	}
}

// bnRun does a training and an inference pass forward and backward and
// returns every output, gradient and statistic, concatenated, and the
// float64 partial sums of the reductions.
func bnRun(t *testing.T) ([]float32, []float64) {
	r := rand.New(rand.NewPCG(10, 11))
	b := NewBatchNormalization()
	if _, err := b.Build([]tensor.Shape{{20, 20, 24}}); err != nil {
		t.Fatal(err)
	}
	b.InitWeights(r)
	x := randTensorC(r, 1, 2, 8, 20, 20, 24)
	dy := randTensorC(r, 0, 1, 8, 20, 20, 24)
	var all []float32
	var parts []float64
	for _, training := range []bool{true, false} {
		c := &Context{Training: training}
		all = append(all, b.Forward(c, []*tensor.Tensor{x}).Data...)
		parts = append(parts, b.stats.Parts()...)
		all = append(all, b.Backward(c, dy)[0].Data...)
		parts = append(parts, b.stats.Parts()...)
		for _, p := range b.Params() {
			all = append(all, p.Value.Data...)
			if p.Grad != nil {
				all = append(all, p.Grad.Data...)
			}
		}
	}
	return all, parts
}

func TestBatchNormThreadIndependence(t *testing.T) {
	old := kernels.Threads()
	defer kernels.SetThreads(old)
	if n := kernels.BNChunks(8*20*20, 24); n < 2 {
		t.Fatalf("test shape gives %d reduction chunks, want several", n)
	}
	kernels.SetThreads(1)
	a, pa := bnRun(t)
	kernels.SetThreads(2)
	b, pb := bnRun(t)
	kernels.SetThreads(3)
	c, pc := bnRun(t)
	// The float64 partial sums are compared too: float32 results alone can
	// hide a reduction whose order depends on the thread count.
	if len(pa) != len(pb) || len(pa) != len(pc) {
		t.Fatalf("partial sums: %d, %d, %d values with 1, 2, 3 threads", len(pa), len(pb), len(pc))
	}
	for i := range pa {
		if pa[i] != pb[i] || pa[i] != pc[i] {
			t.Fatalf("partial sum %d differs with the thread count: %v, %v, %v", i, pa[i], pb[i], pc[i])
		}
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) || math.Float32bits(a[i]) != math.Float32bits(c[i]) {
			t.Fatalf("value %d differs with the thread count: %v (1), %v (2), %v (3)", i, a[i], b[i], c[i])
		}
	}
}

// TestBatchNormLargeGrad checks the chunked backward against a float64
// computation of the batch-norm gradient on a shape with several chunks.
func TestBatchNormLargeGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	b := NewBatchNormalization()
	if _, err := b.Build([]tensor.Shape{{16, 16, 32}}); err != nil {
		t.Fatal(err)
	}
	for j := range b.Gamma.Value.Data {
		b.Gamma.Value.Data[j] = float32(0.5 + r.Float64())
	}
	x := randTensorC(r, 10, 2, 10, 16, 16, 32)
	dy := randTensorC(r, 0.3, 1, 10, 16, 16, 32)
	c := &Context{Training: true}
	b.Forward(c, []*tensor.Tensor{x})
	dx := b.Backward(c, dy)[0]
	mean, variance := bnNaiveStats(x)
	C := 32
	M := float64(len(x.Data) / C)
	sdy := make([]float64, C)
	sdyx := make([]float64, C)
	for i, v := range x.Data {
		j := i % C
		xh := (float64(v) - mean[j]) / math.Sqrt(variance[j]+b.Epsilon)
		sdy[j] += float64(dy.Data[i])
		sdyx[j] += float64(dy.Data[i]) * xh
	}
	for j := 0; j < C; j++ {
		if math.Abs(float64(b.Beta.Grad.Data[j])-sdy[j]) > 1e-3 || math.Abs(float64(b.Gamma.Grad.Data[j])-sdyx[j]) > 1e-3 {
			t.Fatalf("channel %d: dgamma %v dbeta %v, want %v %v", j, b.Gamma.Grad.Data[j], b.Beta.Grad.Data[j], sdyx[j], sdy[j])
		}
	}
	for i, v := range x.Data {
		j := i % C
		is := 1 / math.Sqrt(variance[j]+b.Epsilon)
		xh := (float64(v) - mean[j]) * is
		want := float64(b.Gamma.Value.Data[j]) * is * (float64(dy.Data[i]) - sdy[j]/M - xh*sdyx[j]/M)
		if math.Abs(float64(dx.Data[i])-want) > 1e-4 {
			t.Fatalf("dx[%d] = %v, want %v", i, dx.Data[i], want)
		}
	}
}

func TestBatchNormNoAllocs(t *testing.T) {
	if raceEnabledC() {
		t.Skip("allocation counts are meaningless under -race")
	}
	old := kernels.Threads()
	defer kernels.SetThreads(old)
	kernels.SetThreads(1)
	r := rand.New(rand.NewPCG(1, 1))
	b := NewBatchNormalization()
	if _, err := b.Build([]tensor.Shape{{8, 8, 16}}); err != nil {
		t.Fatal(err)
	}
	x := randTensorC(r, 0, 1, 4, 8, 8, 16)
	in := []*tensor.Tensor{x}
	c := &Context{Training: true}
	step := func() { b.Forward(c, in); b.Backward(c, x) }
	step()
	if n := testing.AllocsPerRun(10, step); n != 0 {
		t.Fatalf("%v allocations per training step, want 0", n)
	}
}

func TestBatchNormErrors(t *testing.T) {
	b := NewBatchNormalization()
	b.Axis = 1
	_, err := b.Build([]tensor.Shape{{4, 4, 3}})
	wantErrC(t, err, "axis")
	b = NewBatchNormalization()
	b.Axis = 3
	if _, err := b.Build([]tensor.Shape{{4, 4, 3}}); err != nil {
		t.Fatalf("axis 3 on rank-3 samples is the last axis: %v", err)
	}
	b = NewBatchNormalization()
	b.Epsilon = 0
	_, err = b.Build([]tensor.Shape{{3}})
	wantErrC(t, err, "epsilon")
	ctor, _ := lookup("BatchNormalization")
	_, err = ctor("bn", json.RawMessage(`{"momentum": 1.5}`))
	wantErrC(t, err, "momentum")
	l, err := ctor("bn", json.RawMessage(`{}`))
	if err != nil || l.(*BatchNormalization).Momentum != 0.99 || l.(*BatchNormalization).Epsilon != 1e-3 {
		t.Fatalf("defaults from an empty config: %v %+v", err, l)
	}
	b = NewBatchNormalization()
	b.SetName("batch_normalization")
	b.Momentum = 0.9
	roundTripC(t, b)
}

// BenchmarkBatchNormTrain times a training Forward and Backward on the
// first BN of mnist-cnn at batch 64, (64, 26, 26, 32).
func BenchmarkBatchNormTrain(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	l := NewBatchNormalization()
	if _, err := l.Build([]tensor.Shape{{26, 26, 32}}); err != nil {
		b.Fatal(err)
	}
	x := randTensorC(r, 0.5, 2, 64, 26, 26, 32)
	dy := randTensorC(r, 0, 1, 64, 26, 26, 32)
	c := &Context{Training: true}
	b.SetBytes(int64(4 * len(x.Data)))
	for b.Loop() {
		l.Forward(c, []*tensor.Tensor{x})
		l.Backward(c, dy)
	}
}

// TestBatchNormPathsSameBits checks that the AVX-512 passes (16 channels
// at a time, the rest in Go) and the pure-Go ones give the same bits, for
// BN alone and fused with ReLU and ReLU6, on 35 channels (two SIMD blocks
// and a tail).
func TestBatchNormPathsSameBits(t *testing.T) {
	run := func(act actKind) []float32 {
		r := rand.New(rand.NewPCG(12, 13))
		b := NewBatchNormalization()
		if _, err := b.Build([]tensor.Shape{{9, 7, 35}}); err != nil {
			t.Fatal(err)
		}
		for i := range b.Gamma.Value.Data {
			b.Gamma.Value.Data[i] = float32(3 + r.NormFloat64())
			b.Beta.Value.Data[i] = float32(r.NormFloat64())
		}
		x := randTensorC(r, 1, 2, 6, 9, 7, 35)
		dy := randTensorC(r, 0, 1, 6, 9, 7, 35)
		y := tensor.New(x.Shape...)
		var all []float32
		for _, training := range []bool{true, false} {
			c := &Context{Training: training}
			var dx *tensor.Tensor
			if act == actLinear {
				all = append(all, b.Forward(c, []*tensor.Tensor{x}).Data...)
				dx = b.Backward(c, dy)[0]
			} else {
				b.forwardAct(c, x, act, y)
				all = append(all, y.Data...)
				dx = b.backwardAct(dy, act)[0]
			}
			all = append(all, dx.Data...)
			for _, p := range b.Params() {
				all = append(all, p.Value.Data...)
				if p.Grad != nil {
					all = append(all, p.Grad.Data...)
				}
			}
		}
		return all
	}
	for _, act := range []actKind{actLinear, actReLU, actReLU6} {
		var ref []float32
		for i, p := range kernels.SupportedPaths() {
			restore := kernels.SetPath(p)
			got := run(act)
			restore()
			if i == 0 {
				ref = got
				continue
			}
			for j := range ref {
				if math.Float32bits(got[j]) != math.Float32bits(ref[j]) {
					t.Fatalf("act %d: value %d is %v on path %v, %v on %v", act, j, got[j], p, ref[j], kernels.SupportedPaths()[0])
				}
			}
		}
	}
}
