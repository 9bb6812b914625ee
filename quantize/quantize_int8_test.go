package quantize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"
)

// TestQuantizeInt8MatchesQuantizeValue holds the slice form to the scalar
// one, ties, NaN and out-of-range values included.
func TestQuantizeInt8MatchesQuantizeValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := []float32{0, 0.5, 1.5, -0.5, -2.5, 1e9, -1e9, float32(math.NaN()), float32(math.Inf(1))}
	for i := 0; i < 1000; i++ {
		x = append(x, float32(rng.NormFloat64()*3))
	}
	for _, c := range []struct {
		scale      float32
		zp, lo, hi int32
	}{{0.5, 0, -128, 127}, {0.0371, -17, -128, 127}, {1, 3, -8, 7}} {
		q := make([]int8, len(x))
		qmath.QuantizeInt8(x, q, c.scale, c.zp, c.lo, c.hi)
		for i, v := range x {
			if want := qmath.QuantizeValue(v, c.scale, c.zp, c.lo, c.hi); int32(q[i]) != want {
				t.Fatalf("scale %v zp %d: x=%v got %d, want %d", c.scale, c.zp, v, q[i], want)
			}
		}
	}
}
