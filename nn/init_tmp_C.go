package nn

import (
	"math"
	"math/rand/v2"
)

// glorotUniform is a TEMPORARY stand-in (helper C) until nn/init.go lands:
// Keras glorot uniform, limit sqrt(6/(fanIn+fanOut)).
func glorotUniform(r *rand.Rand, data []float32, fanIn, fanOut int) {
	lim := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range data {
		data[i] = float32((r.Float64()*2 - 1) * lim)
	}
}
