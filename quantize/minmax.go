package quantize

import (
	"github.com/goqat/goqat/internal/kernels"
)

// minMaxChunks is the fixed number of pieces a large min/max reduction is
// split into (min and max are exact, so the split does not change the
// result; it only lets the pieces run in parallel).
const minMaxChunks = 8

// parMinMax computes the min and max of a slice, in parallel for large
// slices, without allocating (its range function is bound once).
type parMinMax struct {
	x        []float32
	los, his [minMaxChunks]float32
	fn       func(lo, hi int)
}

// run returns the min and max of x (0, 0 if empty).
func (p *parMinMax) run(x []float32) (lo, hi float32) {
	if len(x) < 1<<15 {
		return minMax(x)
	}
	if p.fn == nil {
		p.fn = p.chunks
	}
	p.x = x
	kernels.ParallelFor(minMaxChunks, 1, p.fn)
	p.x = nil
	lo, hi = p.los[0], p.his[0]
	for k := 1; k < minMaxChunks; k++ {
		lo = min(lo, p.los[k])
		hi = max(hi, p.his[k])
	}
	return lo, hi
}

// chunks computes the min and max of chunks [a, b).
func (p *parMinMax) chunks(a, b int) {
	n := len(p.x)
	for k := a; k < b; k++ {
		p.los[k], p.his[k] = minMax(p.x[k*n/minMaxChunks : (k+1)*n/minMaxChunks])
	}
}

// parallelMinMax returns the min and max of x (allocating a parMinMax: for
// one-off uses).
func parallelMinMax(x []float32) (lo, hi float32) {
	var p parMinMax
	return p.run(x)
}
