package ops

import "github.com/goqat/goqat/internal/kernels"

// BiasAdd adds b (cols) to every row of x (rows, cols). Rows are split
// across threads.
func BiasAdd(x []float32, rows, cols int, b []float32) {
	b = b[:cols]
	kernels.ParallelFor(rows, parGrain(cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			addTo(x[r*cols:(r+1)*cols], b)
		}
	})
}

// BiasGrad sets dB (cols) to the column sums of dOut (rows, cols), each
// summed in row order. Columns are split across threads, so the result does
// not depend on the thread count.
func BiasGrad(dOut []float32, rows, cols int, dB []float32) {
	dB = dB[:cols]
	grain := 16
	if rows*cols < 1<<15 {
		grain = cols // small: one goroutine
	}
	kernels.ParallelFor(cols, grain, func(lo, hi int) {
		acc := dB[lo:hi]
		clear(acc)
		for r := 0; r < rows; r++ {
			addTo(acc, dOut[r*cols+lo:r*cols+hi])
		}
	})
}
