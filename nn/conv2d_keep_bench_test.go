package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// BenchmarkConv2DKeepCol times a training Forward and Backward of
// mnist-cnn's conv2 at batch 128 with the whole im2col matrix kept from
// Forward (85 MB), with each chunk packed again in Backward, and with
// chunks of one image (L2-sized) packed again.
func BenchmarkConv2DKeepCol(b *testing.B) {
	for _, mode := range []string{"kept", "repacked", "l2chunks"} {
		b.Run(mode, func(b *testing.B) {
			defer func(k, c int) { convKeepFloats, convChunkFloats = k, c }(convKeepFloats, convChunkFloats)
			switch mode {
			case "repacked":
				convKeepFloats = 0
			case "l2chunks":
				convKeepFloats, convChunkFloats = 0, 1<<18
			}
			l := NewConv2D(64, 3, 3)
			l.UseBias = false
			if _, err := l.Build([]tensor.Shape{{26, 26, 32}}); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			l.InitWeights(r)
			x := convRandTensor(r, 128, 26, 26, 32)
			dOut := convRandTensor(r, 128, 24, 24, 64)
			c := &Context{Training: true}
			in := []*tensor.Tensor{x}
			l.Forward(c, in)
			l.Backward(c, dOut)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.Forward(c, in)
				l.Backward(c, dOut)
			}
		})
	}
}
