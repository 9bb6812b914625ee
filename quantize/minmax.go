package quantize

import (
	"github.com/goqat/goqat/internal/kernels"
)

// minMaxChunks is the fixed number of pieces a large min/max reduction is
// split into (min and max are exact, so the split does not change the
// result; it only lets the pieces run in parallel).
const minMaxChunks = 8

// parallelMinMax returns the min and max of x, in parallel for large x.
func parallelMinMax(x []float32) (lo, hi float32) {
	if len(x) < 1<<15 {
		return minMax(x)
	}
	var los, his [minMaxChunks]float32
	n := len(x)
	kernels.ParallelFor(minMaxChunks, 1, func(a, b int) {
		for k := a; k < b; k++ {
			los[k], his[k] = minMax(x[k*n/minMaxChunks : (k+1)*n/minMaxChunks])
		}
	})
	lo, hi = los[0], his[0]
	for k := 1; k < minMaxChunks; k++ {
		lo = min(lo, los[k])
		hi = max(hi, his[k])
	}
	return lo, hi
}
