package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFakeQuantTensorMatchesGo checks every path of FakeQuant,
// FakeQuantGrad and MinMax against the Go loops bit for bit on lengths
// around the vector width, special values (NaN, infinities, signed zeros,
// the range edges), in place and with guard zones after the outputs.
// MinMax is also checked on inputs whose extremes are zeros of both signs
// in either order, where the first zero decides.
func TestFakeQuantTensorMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 259} {
		for trial := 0; trial < 4; trial++ {
			name := fmt.Sprintf("n=%d trial %d", n, trial)
			x := fqMatrix(r, 1, n, 2, true)
			dy := fqMatrix(r, 1, n, 1, true)
			switch trial {
			case 1: // nothing below zero: the minimum is a zero (if any)
				for i := range x[:n] {
					x[i] = float32(math.Abs(float64(x[i])))
					if r.IntN(5) == 0 {
						x[i] = []float32{0, negZero}[r.IntN(2)]
					}
				}
			case 2: // nothing above zero
				for i := range x[:n] {
					x[i] = -float32(math.Abs(float64(x[i])))
					if r.IntN(5) == 0 {
						x[i] = []float32{0, negZero}[r.IntN(2)]
					}
				}
			case 3: // zeros only
				for i := range x[:n] {
					x[i] = []float32{0, negZero}[r.IntN(2)]
				}
			}
			scale, inv, lo, hi := float32(1.0/64), float32(64), float32(-128), float32(127)
			if trial%2 == 1 {
				scale, inv, lo, hi = 1.0/32, 32, 0, 255
			}
			var ref [3][]float32
			var refLo, refHi float32
			fqPaths(func(path Path) {
				y := fqMatrix(r, 1, n, 1, false)
				dx := fqMatrix(r, 1, n, 1, false)
				FakeQuant(x[:n], y, scale, inv, lo, hi)
				FakeQuantGrad(x[:n], dy, dx, inv, lo, hi)
				in := append([]float32(nil), x...)
				FakeQuant(in[:n], in, scale, inv, lo, hi) // in place
				mlo, mhi := MinMax(x[:n])
				checkGuard(t, name+" "+path.String(), y, n)
				checkGuard(t, name+" "+path.String(), dx, n)
				if path == Generic {
					ref = [3][]float32{y[:n], dx[:n], in[:n]}
					refLo, refHi = mlo, mhi
					if gl, gh := minMaxGo(x[:n]); math.Float32bits(gl) != math.Float32bits(mlo) || math.Float32bits(gh) != math.Float32bits(mhi) {
						t.Fatalf("%s: MinMax = %v, %v, loop %v, %v", name, mlo, mhi, gl, gh)
					}
					return
				}
				for k, got := range [3][]float32{y[:n], dx[:n], in[:n]} {
					if i, ok := sameBits32(got, ref[k]); !ok {
						t.Errorf("%s %v: output %d [%d] = %v, Go %v", name, path, k, i, got[i], ref[k][i])
					}
				}
				if math.Float32bits(mlo) != math.Float32bits(refLo) || math.Float32bits(mhi) != math.Float32bits(refHi) {
					t.Errorf("%s %v: MinMax = %v (%#x), %v (%#x), Go %v (%#x), %v (%#x)", name, path,
						mlo, math.Float32bits(mlo), mhi, math.Float32bits(mhi), refLo, math.Float32bits(refLo), refHi, math.Float32bits(refHi))
				}
			})
		}
	}
}

// TestFakeQuantTensorPathsExercised fails if a path this CPU supports did
// not run its own per-tensor fake quant code for 16 values.
func TestFakeQuantTensorPathsExercised(t *testing.T) {
	x := make([]float32, 16)
	for _, path := range SupportedPaths() {
		restore := SetPath(path)
		want := path
		if path == AVX2 {
			want = Generic // no AVX2 code: the Go loops run
		}
		before := fqCalls[want].Load()
		MinMax(x)
		restore()
		if fqCalls[want].Load() == before {
			t.Errorf("MinMax with SetPath(%v) did not run the %v code", path, want)
		}
	}
}
