package ops

import "github.com/goqat/goqat/internal/kernels"

// biasChunks is the fixed number of row chunks whose partial column sums
// BiasGrad adds in order (fewer for fewer rows): it depends on nothing but
// the row count, so neither does the result.
const biasChunks = 16

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

// BiasAddSerial is BiasAdd on the calling goroutine alone, for callers
// that already split their work across threads. The values are BiasAdd's.
func BiasAddSerial(x []float32, rows, cols int, b []float32) {
	b = b[:cols]
	for r := 0; r < rows; r++ {
		addTo(x[r*cols:(r+1)*cols], b)
	}
}

// BiasGradScratchSize is the length of the scratch buffer BiasGrad needs.
func BiasGradScratchSize(rows, cols int) int { return min(rows, biasChunks) * cols }

// BiasGrad sets dB (cols) to the column sums of dOut (rows, cols). The rows
// are cut into min(rows, 16) fixed chunks whose partial sums (each in row
// order) are computed in parallel into scratch (BiasGradScratchSize values)
// and then added in chunk order, so the result depends only on the shapes.
func BiasGrad(dOut []float32, rows, cols int, dB, scratch []float32) {
	dB = dB[:cols]
	nc := min(rows, biasChunks)
	if nc == 0 {
		clear(dB)
		return
	}
	scratch = scratch[:nc*cols]
	grain := 1
	if rows*cols < 1<<15 {
		grain = nc // small: one goroutine
	}
	kernels.ParallelFor(nc, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part := scratch[i*cols : (i+1)*cols]
			copy(part, dOut[i*rows/nc*cols:])
			for r := i*rows/nc + 1; r < (i+1)*rows/nc; r++ {
				addTo(part, dOut[r*cols:(r+1)*cols])
			}
		}
	})
	copy(dB, scratch[:cols])
	for i := 1; i < nc; i++ {
		addTo(dB, scratch[i*cols:(i+1)*cols])
	}
}
