package kernels

import (
	"fmt"
	"math"
	"sync/atomic"
)

// ReLUGrad writes the gradient of a ReLU through its output y: dx[i] =
// dy[i] where y[i] > 0, else +0, for i < len(dx). The mask is nn's ReLU
// Backward's, from y's bits b as an int32: kept when b-1 (wrapping) is not
// negative, which for a ReLU's outputs (+0, positive values, NaN) is y >
// +0 or a NaN with the sign bit clear
// (docs/DESIGN.md, Training kernels). y and dy hold at least len(dx)
// values; dx may be dy. With the AVX512 path active, blocks of 16 values
// go through AVX-512F assembly (an integer compare and a zeroing masked
// move), the rest through the Go loop: the same bits.
func ReLUGrad(y, dy, dx []float32) {
	n := len(dx)
	if len(y) < n || len(dy) < n {
		panic(fmt.Sprintf("kernels: ReLUGrad of %d values from %d and %d", n, len(y), len(dy)))
	}
	v := 0
	if n >= 16 && ActivePath() == AVX512 {
		if !reluGradRan.Load() {
			reluGradRan.Store(true)
		}
		v = n &^ 15
		f32ReLUGradAVX512(&y[0], &dy[0], &dx[0], v)
	}
	reluGradGo(y[v:n], dy[v:n], dx[v:n])
}

// reluGradGo is ReLUGrad's loop, branch-free (random signs defeat the
// branch predictor).
func reluGradGo(y, dy, dx []float32) {
	dy = dy[:len(dx)]
	y = y[:len(dx)]
	for i, v := range y {
		keep := ^uint32((int32(math.Float32bits(v)) - 1) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & keep)
	}
}

// reluGradRan is set when ReLUGrad runs the AVX-512 kernel (the path-ran
// test clears and reads it); a flag for the reason of copyRowsRan.
var reluGradRan atomic.Bool
