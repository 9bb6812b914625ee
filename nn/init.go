package nn

import (
	"math"
	"math/rand/v2"
)

// Weight initializers shared by the layers' InitWeights. Keras's defaults
// are Glorot uniform kernels and zero biases.

// glorotUniform fills data with Glorot (Xavier) uniform values, as Keras's
// default kernel initializer: uniform in [-limit, limit] with limit =
// sqrt(6 / (fanIn + fanOut)). Values are drawn from r in order, one per
// element.
func glorotUniform(r *rand.Rand, data []float32, fanIn, fanOut int) {
	limit := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range data {
		data[i] = float32((r.Float64()*2 - 1) * limit)
	}
}
