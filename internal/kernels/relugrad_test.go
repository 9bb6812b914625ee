package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestReLUGrad compares ReLUGrad on every path with its Go loop, bit for
// bit, on lengths around the 16- and 32-value blocks, y holding ReLU
// outputs and specials (+0, -0, NaNs of both signs, infinities, negative
// values), in place (dx = dy) and not, with guard values after dx.
func TestReLUGrad(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), math.Float32frombits(0xffc00001),
		float32(math.Inf(1)), float32(math.Inf(-1)), -1.5, 1e-45, -1e-45}
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(71, 72))
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 64, 100} {
			for _, inPlace := range []bool{false, true} {
				y := make([]float32, n)
				dy := make([]float32, n)
				for i := range y {
					y[i] = max(float32(r.NormFloat64()), 0)
					if r.IntN(4) == 0 {
						y[i] = specials[r.IntN(len(specials))]
					}
					dy[i] = float32(r.NormFloat64())
					if r.IntN(8) == 0 {
						dy[i] = specials[r.IntN(len(specials))]
					}
				}
				want := make([]float32, n)
				reluGradGo(y, dy, want)
				dx := make([]float32, n+bnGuardLen)
				for i := range dx {
					dx[i] = bnGuard
				}
				if inPlace {
					copy(dx, dy)
					ReLUGrad(y, dx[:n], dx[:n])
				} else {
					ReLUGrad(y, dy, dx[:n])
				}
				for i := range dx {
					w := bnGuard
					if i < n {
						w = want[i]
					}
					if math.Float32bits(dx[i]) != math.Float32bits(w) {
						t.Fatalf("%v n=%d in place %v: dx[%d] = %v (y %v), want %v", p, n, inPlace, i, dx[i], y[min(i, max(n-1, 0))], w)
					}
				}
			}
		}
	})
}

// TestReLUGradMatchesLayerMask checks the Go loop against the mask as nn's
// ReLU Backward writes it, on every bit pattern class of y.
func TestReLUGradMatchesLayerMask(t *testing.T) {
	for _, b := range []uint32{0, 1, 0x3f800000, 0x7f800000, 0x7fc00000, 0x80000000, 0x80000001, 0xbf800000, 0xffc00000, 0x7fffffff, 0xffffffff} {
		y := []float32{math.Float32frombits(b)}
		dx := []float32{0}
		reluGradGo(y, []float32{2.5}, dx)
		want := float32(0)
		if int32(b)-1 >= 0 || b == 0x80000000 {
			want = 2.5
		}
		if dx[0] != want {
			t.Errorf("y bits %#x: dx = %v, want %v", b, dx[0], want)
		}
	}
}

// TestReLUGradPathsExercised fails if the CPU supports AVX-512 and
// ReLUGrad did not run its AVX-512 kernel under that path.
func TestReLUGradPathsExercised(t *testing.T) {
	y, d := make([]float32, 40), make([]float32, 40)
	for _, p := range SupportedPaths() {
		if p != AVX512 {
			continue
		}
		restore := SetPath(p)
		reluGradRan.Store(false)
		ReLUGrad(y, d, d)
		restore()
		if !reluGradRan.Load() {
			t.Errorf("ReLUGrad with SetPath(%v) did not run the AVX-512 kernel", p)
		}
	}
}
