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

// TestFoldChainBatchStatsEqualBN feeds the same values through
// nn.BatchNormalization's training Forward (u = z*inv + bias, unfolded
// first) and through the folded path's statistics (foldChain.batchStats on
// z: kernels.FoldStats per chunk, then kernels.BNStats), and checks the
// batch mean and variance, the updated moving statistics and the
// normalized output for equal bits: with one chunk and with several
// (including 16), with and without a bias, a mean much larger than the
// spread (where the shift of the one-pass variance matters), a negative
// gamma, at steps in and after the moving average's warm-up, on 1 and 2
// threads.
func TestFoldChainBatchStatsEqualBN(t *testing.T) {
	defer kernels.SetThreads(kernels.Threads())
	cases := []struct {
		rows, c int
		offset  float64 // mean of z, against a spread of about 1
	}{{7, 35, 0}, {8 * 14 * 14, 35, 0}, {8 * 14 * 14, 35, 1e5}, {4096, 64, 1}, {3, 17, -50}}
	for _, tc := range cases {
		if n := kernels.BNChunks(tc.rows, tc.c); tc.rows > 1000 && n < 2 {
			t.Fatalf("%dx%d: %d chunk(s), want several", tc.rows, tc.c, n)
		}
		for _, withBias := range []bool{true, false} {
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%dx%d/offset=%v/bias=%v/threads=%d", tc.rows, tc.c, tc.offset, withBias, threads)
				kernels.SetThreads(threads)
				checkBatchStats(t, name, tc.rows, tc.c, tc.offset, withBias)
			}
		}
	}
}

// checkBatchStats runs one case of TestFoldChainBatchStatsEqualBN over
// several steps.
func checkBatchStats(t *testing.T, name string, rows, C int, offset float64, withBias bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(rows), uint64(C)))
	var bns [2]*nn.BatchNormalization
	for i := range bns {
		bns[i] = nn.NewBatchNormalization()
		if _, err := bns[i].Build([]tensor.Shape{{C}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range bns[0].Params() {
		for j := range p.Value.Data {
			p.Value.Data[j] = float32(0.5 + r.Float64())
		}
	}
	bns[0].Gamma.Value.Data[1] = -bns[0].Gamma.Value.Data[1]
	for k, p := range bns[1].Params() {
		copy(p.Value.Data, bns[0].Params()[k].Value.Data)
	}
	ref, got := bns[0], bns[1]
	inv := make([]float32, C)
	var bias []float32
	if withBias {
		bias = make([]float32, C)
	}
	for j := range inv {
		inv[j] = float32(0.25 + r.Float64())
		if bias != nil {
			bias[j] = float32(r.NormFloat64())
		}
	}
	z := make([]float32, rows*C)
	u := tensor.New(rows, C)
	out := make([]float32, rows*C)
	var f foldChain
	f.p.Act = kernels.ActLinear
	for _, step := range []int{0, 1, 7, 2000} {
		for i := range z {
			z[i] = float32(offset + r.NormFloat64())
		}
		unfoldNaive(z, inv, bias, u.Data, C)
		y := ref.Forward(&nn.Context{Training: true, Step: step}, []*tensor.Tensor{u})
		mean, variance := ref.Stats()
		f.setup(C, rows)
		f.batchStats(got, step, z, inv, bias)
		f.forward(out)
		for j := 0; j < C; j++ {
			gm, gv := float32(f.st.Mean[j]), float32(f.st.Var[j])
			if math.Float32bits(gm) != math.Float32bits(mean[j]) || math.Float32bits(f.st.Center[j]) != math.Float32bits(mean[j]) {
				t.Fatalf("%s step %d: channel %d mean %v (center %v), BN %v", name, step, j, gm, f.st.Center[j], mean[j])
			}
			if math.Float32bits(gv) != math.Float32bits(variance[j]) {
				t.Fatalf("%s step %d: channel %d variance %v, BN %v", name, step, j, gv, variance[j])
			}
		}
		if i := sameBits(got.MovingMean.Value.Data, ref.MovingMean.Value.Data); i >= 0 {
			t.Fatalf("%s step %d: moving mean[%d] %v, BN %v", name, step, i, got.MovingMean.Value.Data[i], ref.MovingMean.Value.Data[i])
		}
		if i := sameBits(got.MovingVariance.Value.Data, ref.MovingVariance.Value.Data); i >= 0 {
			t.Fatalf("%s step %d: moving variance[%d] %v, BN %v", name, step, i, got.MovingVariance.Value.Data[i], ref.MovingVariance.Value.Data[i])
		}
		if i := sameBits(out, y.Data); i >= 0 {
			t.Fatalf("%s step %d: output[%d] %v, BN %v", name, step, i, out[i], y.Data[i])
		}
	}
}
