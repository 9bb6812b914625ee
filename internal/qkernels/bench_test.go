package qkernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
)

// BenchmarkGemm times one product per path on convolution shapes of
// mnist-cnn (m = output pixels of one image, k = 3*3*C, n = filters) and a
// large square one; ops/s counts a multiply-add as two operations. The
// multipliers are small, as in real models (the fast output stage, fused
// into the VNNI micro-kernel).
func BenchmarkGemm(b *testing.B) {
	defer kernels.SetThreads(kernels.Threads())
	kernels.SetThreads(1)
	shapes := [][3]int{{784, 9, 16}, {676, 9, 32}, {784, 16, 32}, {576, 288, 64}, {484, 576, 64}, {512, 512, 512}}
	for _, p := range SupportedPaths() {
		for _, s := range shapes {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%v/%dx%dx%d", p, m, k, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				w := make([]int8, k*n)
				for i := range w {
					w[i] = int8(rng.IntN(255) - 127)
				}
				pw, _ := PackWeights(p, w, k, n)
				o, _ := NewOutput(pw, nil, 0, smallMults(n, rng), 0, -128, 127) // as real models: the fast output stage
				g, _ := NewGemm(pw, o)
				a := make([]int8, m*k)
				fill, set := FillRows(k)
				set(a)
				out := make([]int8, m*n)
				b.SetBytes(0)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					_ = g.Run(fill, m, out, n)
				}
				b.ReportMetric(float64(2*m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		}
	}
}
