package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestFoldChainEqualsNaive pins FoldedConvBN's fully fused path (foldChain:
// kernels.Fold*) to the unfused reference loops (naive) bit for bit:
// outputs, input gradients, parameter gradients and quantizer state over
// training steps before and after the BN freeze and in inference, on 35
// channels (two AVX-512 blocks and a tail of 3), every activation, with a
// moving-average, an all-values, a 4-bit and no output quantizer, on 1 and
// 2 threads; also with negative gammas (the activation decreasing in u)
// and a zero gamma (a channel of NaNs), and with the activation's range
// computed the unfused way (the fallback for what actRange cannot derive).
func TestFoldChainEqualsNaive(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	w8 := Default8Bit.Weight(3)
	ma, av := Default8Bit.Activation(), Default8Bit.Input()
	a4 := NBit{WeightBits: 4, ActivationBits: 4, PerAxis: true}.Activation()
	quants := []struct {
		name string
		oq   *Spec
	}{{"moving-average", &ma}, {"all-values", &av}, {"4-bit", &a4}, {"none", nil}}
	for _, act := range []string{"relu", "relu6", ""} {
		fc := foldCase{"conv35+" + act, func() nn.Layer { return nn.NewConv2D(35, 3, 3) }, []int{14, 14, 3}, act}
		for _, q := range quants {
			for _, mode := range []string{"positive", "signed", "fallback"} {
				for _, threads := range []int{1, 2} {
					name := fmt.Sprintf("%s/%s/%s/threads=%d", fc.name, q.name, mode, threads)
					fallbacks := checkChain(t, name, fc, &w8, q.oq, threads, mode)
					if q.oq != nil && (fallbacks > 0) != (mode == "fallback") {
						t.Errorf("%s: %d range fallbacks", name, fallbacks)
					}
				}
			}
		}
	}
	// Dense (rows = batch) with a bias, and a depthwise convolution.
	dense := foldCase{"dense", func() nn.Layer { return nn.NewDense(21) }, []int{9}, "relu"}
	depth := foldCase{"depthwise", func() nn.Layer { d := nn.NewDepthwiseConv2D(3, 3); d.Padding = "same"; return d }, []int{5, 5, 17}, "relu6"}
	w1, w2 := Default8Bit.Weight(1), Default8Bit.Weight(2)
	for _, threads := range []int{1, 2} {
		checkChain(t, fmt.Sprintf("dense/threads=%d", threads), dense, &w1, &ma, threads, "positive")
		checkChain(t, fmt.Sprintf("depthwise/threads=%d", threads), depth, &w2, &ma, threads, "positive")
	}
}

// checkChain runs a folded layer on the fused path against its naive twin
// for 4 steps (batch statistics, batch statistics, frozen, inference) and
// returns how many times the fused path computed the activation's range
// the unfused way. Mode "signed" makes every third gamma negative and the
// second zero, "fallback" forces the unfused range.
func checkChain(t *testing.T, name string, fc foldCase, wq, oq *Spec, threads int, mode string) int {
	t.Helper()
	r := rand.New(rand.NewPCG(41, 42))
	_, ref := foldPair(t, fc, 0.9, 2, wq, oq, r)
	r = rand.New(rand.NewPCG(41, 42))
	_, got := foldPair(t, fc, 0.9, 2, wq, oq, r)
	ref.naive = true
	got.fc.forceFallback = mode == "fallback"
	if mode == "signed" {
		for _, l := range []*FoldedConvBN{ref, got} {
			g := l.bn.Gamma.Value.Data
			for j := range g {
				if j%3 == 0 {
					g[j] = -g[j]
				}
			}
			g[1] = 0
		}
	}
	xr := rand.New(rand.NewPCG(43, 44))
	for step := 0; step < 4; step++ {
		x := randTensor(xr, append([]int{8}, fc.in...)...)
		training := step < 3
		kernels.SetThreads(2)
		want := ref.Forward(&nn.Context{Training: training, Step: step}, []*tensor.Tensor{x}).Clone()
		kernels.SetThreads(threads)
		out := got.Forward(&nn.Context{Training: training, Step: step}, []*tensor.Tensor{x})
		if !got.chain {
			t.Fatalf("%s step %d: the fused path did not run", name, step)
		}
		if i := sameBits(out.Data, want.Data); i >= 0 {
			t.Fatalf("%s step %d: output[%d] = %v, naive %v", name, step, i, out.Data[i], want.Data[i])
		}
		if !training {
			continue
		}
		dy := randTensor(xr, out.Shape...)
		kernels.SetThreads(2)
		wantIn := ref.Backward(&nn.Context{Training: true, Step: step}, dy)[0].Clone()
		kernels.SetThreads(threads)
		dIn := got.Backward(&nn.Context{Training: true, Step: step}, dy)[0]
		if i := sameBits(dIn.Data, wantIn.Data); i >= 0 {
			t.Fatalf("%s step %d: dIn[%d] = %v, naive %v", name, step, i, dIn.Data[i], wantIn.Data[i])
		}
		// The float64 per-channel sums, before they are rounded: the
		// chunks' partial sums must add in the same order.
		for j := range got.s1 {
			if math.Float64bits(got.s1[j]) != math.Float64bits(ref.s1[j]) || math.Float64bits(got.dsf[j]) != math.Float64bits(ref.dsf[j]) {
				t.Fatalf("%s step %d: channel %d sums %v, %v, naive %v, %v", name, step, j, got.s1[j], got.dsf[j], ref.s1[j], ref.dsf[j])
			}
		}
		for k, p := range got.Params() {
			q := ref.Params()[k]
			if i := sameBits(p.Value.Data, q.Value.Data); i >= 0 {
				t.Fatalf("%s step %d: %s[%d] = %v, naive %v", name, step, p.Name, i, p.Value.Data[i], q.Value.Data[i])
			}
			if p.Grad != nil {
				if i := sameBits(p.Grad.Data, q.Grad.Data); i >= 0 {
					t.Fatalf("%s step %d: grad %s[%d] = %v, naive %v", name, step, p.Name, i, p.Grad.Data[i], q.Grad.Data[i])
				}
			}
		}
	}
	return got.fc.fallbacks
}

// TestFoldChainActRange checks foldChain.actRange, the activation's range
// derived from the per-channel extremes of u, against foldPasses.activate
// over the normalized values written out (what the unfused path computes):
// equal bits whenever it reports ok, on values with infinities, NaNs and
// signed zeros, negative, zero and infinite scales, every activation. It
// must also report ok in the ordinary cases (finite nonzero scales, a
// nonzero extreme).
func TestFoldChainActRange(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 6, -6}
	for trial := 0; trial < 600; trial++ {
		C := 1 + r.IntN(20)
		rows := 1 + r.IntN(9)
		act := kernels.Act(trial % 3)
		z := make([]float32, rows*C)
		for i := range z {
			if r.IntN(6) == 0 {
				z[i] = special[r.IntN(len(special))]
			} else {
				z[i] = float32(3 * r.NormFloat64())
			}
		}
		var f foldChain
		f.p.Act = act
		f.setup(C, rows)
		center, scale, beta := make([]float32, C), make([]float32, C), make([]float32, C)
		ordinary := trial%4 != 0
		for j := 0; j < C; j++ {
			center[j], scale[j], beta[j] = float32(r.NormFloat64()), float32(0.5+r.Float64()), float32(r.NormFloat64())
			if j%3 == 1 {
				scale[j] = -scale[j]
			}
			if !ordinary && r.IntN(4) == 0 {
				scale[j] = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1))}[r.IntN(3)]
			}
			if !ordinary && r.IntN(6) == 0 {
				beta[j] = 0
			}
		}
		// u = z (inv 1, bias -0), then the statistics pass's extremes.
		f.z = z
		f.p.Inv, f.p.Bias = f.ones, f.negZero
		f.uRange()
		f.p.Center, f.p.Scale, f.p.Beta = center, scale, beta
		lo, hi, ok := f.actRange()
		y := make([]float32, rows*C)
		kernels.NormAct(z, y, rows, C, kernels.NormParams{Center: center, Scale: scale, Beta: beta, Act: kernels.ActLinear})
		fp := foldPasses{act: []int{actNone, actReLU, actReLU6}[act]}
		wlo, whi := fp.activate(y, nil, y, C, true)
		if ok && (math.Float32bits(lo) != math.Float32bits(wlo) || math.Float32bits(hi) != math.Float32bits(whi)) {
			t.Fatalf("trial %d (act %d): actRange = [%v, %v], activate [%v, %v]", trial, act, lo, hi, wlo, whi)
		}
		if !ok && ordinary && (act != kernels.ActLinear || wlo != 0 && whi != 0) {
			t.Fatalf("trial %d (act %d): actRange not ok on finite nonzero scales (range [%v, %v])", trial, act, wlo, whi)
		}
	}
}
