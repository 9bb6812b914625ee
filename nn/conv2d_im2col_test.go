package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/internal/ops"
)

// TestConvIm2colMatchesOps checks that Conv2D's im2col (serial and split
// across threads) writes ops.Im2col's values bit for bit, on every f32
// path, for odd shapes: strides, 'same' and 'valid' padding, windows
// wider than the image, few and many channels, a sub-range of images; the
// values past the col rows (guards) must stay untouched.
func TestConvIm2colMatchesOps(t *testing.T) {
	for _, p := range kernels.SupportedPaths() {
		restore := kernels.SetPath(p)
		r := rand.New(rand.NewPCG(7, 8))
		for _, tc := range []struct {
			n, h, w, c, kh, kw, sh, sw int
			same                       bool
		}{
			{3, 7, 9, 16, 3, 3, 1, 1, true}, {2, 8, 8, 16, 3, 3, 2, 2, false}, {2, 9, 7, 32, 3, 3, 2, 2, true},
			{1, 5, 6, 3, 3, 3, 1, 1, true}, {2, 4, 3, 16, 5, 5, 1, 1, true}, {2, 6, 11, 8, 2, 3, 1, 2, false},
			{3, 10, 10, 17, 3, 3, 1, 1, true}, {1, 2, 2, 16, 7, 7, 1, 1, true}, {2, 13, 5, 24, 3, 1, 3, 1, true},
		} {
			g := ops.NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
			in := make([]float32, g.InSize())
			for i := range in {
				in[i] = float32(r.NormFloat64())
			}
			for _, rng := range [][2]int{{0, tc.n}, {tc.n - 1, tc.n}} {
				n0, n1 := rng[0], rng[1]
				size := (n1-n0)*g.OutPixels()*g.ColCols() + 33
				want := make([]float32, size)
				for i := range want {
					want[i] = float32(math.NaN())
				}
				got, gotPar := append([]float32(nil), want...), append([]float32(nil), want...)
				ops.Im2col(g, in, want, n0, n1)
				convIm2colSerial(g, in, got, n0, n1)
				convIm2col(g, in, gotPar, n0, n1)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(gotPar[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v %+v images [%d,%d): col[%d] = %v (serial), %v (threads), want %v", p, tc, n0, n1, i, got[i], gotPar[i], want[i])
					}
				}
			}
		}
		restore()
	}
}

// TestConvCol2imMatchesOps checks that Conv2D's col2im (serial and split
// across threads) writes ops.Col2im's values bit for bit, on every f32
// path and for the geometries of TestConvIm2colMatchesOps plus strides
// in one direction only, with guard values after the images.
func TestConvCol2imMatchesOps(t *testing.T) {
	for _, p := range kernels.SupportedPaths() {
		restore := kernels.SetPath(p)
		r := rand.New(rand.NewPCG(9, 10))
		for _, tc := range []struct {
			n, h, w, c, kh, kw, sh, sw int
			same                       bool
		}{
			{3, 7, 9, 16, 3, 3, 1, 1, true}, {2, 8, 8, 16, 3, 3, 2, 2, false}, {2, 9, 7, 32, 3, 3, 2, 2, true},
			{1, 5, 6, 3, 3, 3, 1, 1, true}, {2, 4, 3, 16, 5, 5, 1, 1, true}, {2, 6, 11, 8, 2, 3, 1, 2, false},
			{3, 10, 10, 17, 3, 3, 1, 1, true}, {1, 2, 2, 16, 7, 7, 1, 1, true}, {2, 13, 5, 24, 3, 1, 3, 1, true},
			{2, 9, 12, 48, 3, 3, 2, 1, true}, {2, 8, 8, 16, 3, 3, 1, 1, false}, {1, 6, 6, 16, 9, 9, 1, 1, true},
			{2, 7, 10, 16, 2, 2, 2, 3, false}, {1, 7, 11, 16, 3, 3, 3, 3, true}, {2, 5, 9, 32, 1, 1, 2, 2, false},
		} {
			g := ops.NewGeom(tc.n, tc.h, tc.w, tc.c, tc.kh, tc.kw, tc.sh, tc.sw, tc.same)
			for _, rng := range [][2]int{{0, tc.n}, {tc.n - 1, tc.n}} {
				n0, n1 := rng[0], rng[1]
				col := make([]float32, (n1-n0)*g.OutPixels()*g.ColCols())
				for i := range col {
					col[i] = float32(r.NormFloat64())
				}
				want := make([]float32, g.InSize()+29)
				for i := range want {
					want[i] = float32(math.NaN())
				}
				got, gotPar := append([]float32(nil), want...), append([]float32(nil), want...)
				ops.Col2im(g, col, want, n0, n1)
				convCol2imSerial(g, col, got, n0, n1)
				convCol2im(g, col, gotPar, n0, n1)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(gotPar[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v %+v images [%d,%d): dIn[%d] = %v (serial), %v (threads), want %v", p, tc, n0, n1, i, got[i], gotPar[i], want[i])
					}
				}
			}
		}
		restore()
	}
}
