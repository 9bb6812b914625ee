package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// TestDepthwiseForwardMatchesOps checks that Forward, which runs
// kernels.DepthwiseRows for a plain geometry, gives ops.DepthwiseForward's
// values bit for bit, on every kernel path, with odd channel counts,
// strides and paddings, with and without bias.
func TestDepthwiseForwardMatchesOps(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	for _, p := range kernels.SupportedPaths() {
		restore := kernels.SetPath(p)
		for i, tc := range []struct {
			h, w, c, k, s int
			pad           string
			bias          bool
		}{
			{9, 7, 17, 3, 1, "same", true}, {10, 8, 33, 3, 2, "same", false}, {6, 11, 5, 3, 2, "valid", true},
			{7, 7, 48, 5, 1, "same", true}, {1, 1, 3, 3, 1, "same", false}, {12, 5, 16, 3, 3, "valid", true},
		} {
			l := NewDepthwiseConv2D(tc.k, tc.k)
			l.Strides, l.Padding, l.UseBias = [2]int{tc.s, tc.s}, tc.pad, tc.bias
			if _, err := l.Build([]tensor.Shape{{tc.h, tc.w, tc.c}}); err != nil {
				t.Fatal(err)
			}
			l.InitWeights(r)
			if l.Bias != nil {
				for j := range l.Bias.Value.Data {
					l.Bias.Value.Data[j] = float32(r.NormFloat64())
				}
			}
			x := randTensor(r, 3, tc.h, tc.w, tc.c)
			got := l.Forward(&Context{}, []*tensor.Tensor{x})
			g := l.geom.WithBatch(3)
			want := make([]float32, len(got.Data))
			var b []float32
			if l.Bias != nil {
				b = l.Bias.Value.Data
			}
			ops.DepthwiseForward(g, x.Data, l.DepthwiseKernel.Value.Data, b, want)
			for j := range want {
				if math.Float32bits(got.Data[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%v case %d: out[%d] = %v, ops gives %v", p, i, j, got.Data[j], want[j])
				}
			}
		}
		restore()
	}
}
