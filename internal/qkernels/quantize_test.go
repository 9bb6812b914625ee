package qkernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"
)

// TestQuantizeFloatsEveryPath checks QuantizeFloats against
// qmath.QuantizeInt8 on every path: lengths around the 16-lane step, ties,
// values beyond the range, infinities, NaNs and negative zero, narrow
// ranges and zero points, with guard bytes after the output; it fails if
// the assembly did not run where the CPU has it.
func TestQuantizeFloatsEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	special := []float32{0, float32(math.Copysign(0, -1)), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 127.5, -128.5, 126.5,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e30, -1e30, math.MaxFloat32}
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		before := quantizeAsm.Load()
		for _, grid := range []struct {
			scale      float32
			zp, lo, hi int32
		}{{1, 0, -128, 127}, {0.05, -3, -128, 127}, {1, 10, -127, 127}, {0.013, -128, -128, 127}, {2.5, 5, -7, 7}} {
			for _, n := range []int{1, 15, 16, 17, 31, 33, 64, 100} {
				x := make([]float32, n)
				for i := range x {
					if rng.IntN(3) == 0 {
						x[i] = special[rng.IntN(len(special))] * grid.scale
					} else {
						x[i] = float32(rng.NormFloat64()*80) * grid.scale
					}
				}
				want := make([]int8, n)
				qmath.QuantizeInt8(x, want, grid.scale, grid.zp, grid.lo, grid.hi)
				g := qmath.NewGrid(grid.scale, grid.zp, grid.lo, grid.hi)
				q := make([]int8, n+5)
				for i := range q {
					q[i] = guard
				}
				QuantizeFloats(q, x, g.Inv, g.Lo, g.Hi, grid.zp)
				what := fmt.Sprintf("%v n=%d grid %+v", p, n, grid)
				for i := range want {
					if q[i] != want[i] {
						t.Fatalf("%s: q[%d] = %d for %v, want %d", what, i, q[i], x[i], want[i])
					}
				}
				for _, v := range q[n:] {
					if v != guard {
						t.Fatalf("%s: guard overwritten", what)
					}
				}
			}
		}
		if p == VNNI && quantizeAsm.Load() == before {
			t.Fatalf("the AVX-512 quantizer did not run on the VNNI path")
		}
		ran[p] = true
		restore()
	}
	checkCPUPathsRan(t, ran)
}
