package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// TestConv2DKernelGradPiecesSameBits checks that the kernel gradient
// computed piece by piece (conv2d_dw.go) has the bits of the one product
// per chunk, with pieces of one GEMM k chunk, a few, and the whole chunk,
// and chunks of one image, a few and the whole batch, on every f32 path,
// for 'same' and 'valid', strided, many-channel and deep geometries (more
// than one k chunk per product).
func TestConv2DKernelGradPiecesSameBits(t *testing.T) {
	defer func(c, p int) { convChunkFloats, convPieceFloats = c, p }(convChunkFloats, convPieceFloats)
	cases := []convCase{
		{9, 7, 16, 3, 3, 1, "same"}, {11, 10, 16, 3, 3, 2, "valid"}, {8, 8, 32, 3, 3, 1, "same"},
		{7, 9, 5, 5, 5, 1, "same"}, {6, 6, 48, 3, 3, 2, "same"}, {13, 5, 20, 2, 3, 1, "valid"},
	}
	for _, p := range kernels.SupportedPaths() {
		restore := kernels.SetPath(p)
		for _, cc := range cases {
			K := cc.kh * cc.kw * cc.c
			for _, chunk := range []int{1, 3 * 100 * K, 1 << 30} {
				convChunkFloats = chunk
				var want []float32
				for _, piece := range []int{0, 1, 3 * 320 * K, 1 << 30} {
					convPieceFloats = piece
					r := rand.New(rand.NewPCG(11, 12))
					const n = 7
					l := convNewRandom(t, r, cc, 19, true)
					if piece > 0 && !l.kernelGradPieced(l.geom) {
						t.Fatalf("%+v: not pieced", cc)
					}
					x := convRandTensor(r, n, cc.h, cc.w, cc.c)
					out := l.Forward(&Context{Training: true}, []*tensor.Tensor{x})
					dOut := convRandTensor(r, out.Shape[0], out.Shape[1], out.Shape[2], out.Shape[3])
					l.Kernel.Grad.Zero()
					l.colFresh = false // pack every chunk again, as after the per-group Forward
					dIn := l.Backward(&Context{Training: true}, dOut)[0]
					got := append(append([]float32(nil), l.Kernel.Grad.Data...), dIn.Data...)
					if piece == 0 {
						want = got
						continue
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v %+v chunk %d piece %d: value %d = %v, want %v (one product)", p, cc, chunk, piece, i, got[i], want[i])
						}
					}
				}
			}
		}
		restore()
	}
}
