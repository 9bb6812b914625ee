package lite

import (
	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
)

// gemmOut is the int8 matrix product with requantization shared by Conv2D
// (on im2col rows) and FullyConnected:
//
//	acc[m][n] = bias[n] + sum_k (a[m][k] - zpIn) * w[k][n]
//	out[m][n] = clamp(M[n]*acc + zpOut, lo, hi)
//
// a (M,K), w (K,N), out (M,N). It runs on internal/qkernels: weights
// packed once for the fastest path the CPU has, activation rows packed a
// tile at a time by the thread that consumes them, requantization in the
// kernel's output stage. Every path gives the same bits (qkernels' tests
// hold them to the reference; the sums wrap in int32 as the reference's).
type gemmOut struct {
	g *qkernels.Gemm
}

// newGemmOut packs w, (K, N) row-major, and precomputes the output stage.
func newGemmOut(w []int8, k, n int, bias []int32, zpIn int32, mult []qmath.Multiplier, zpOut, lo, hi int32) (*gemmOut, error) {
	pw, err := qkernels.PackWeights(-1, w, k, n)
	if err != nil {
		return nil, err
	}
	o, err := qkernels.NewOutput(pw, bias, zpIn, mult, zpOut, lo, hi)
	if err != nil {
		return nil, err
	}
	g, err := qkernels.NewGemm(pw, o)
	if err != nil {
		return nil, err
	}
	return &gemmOut{g: g}, nil
}

// shared returns a gemmOut on the same packed weights and output stage,
// with its own scratch, for another interpreter (threads as there).
func (g *gemmOut) shared(threads int) *gemmOut {
	ng, err := qkernels.NewGemm(g.g.Weights(), g.g.Output())
	if err != nil {
		panic(err) // the pair was accepted once
	}
	ng.SetThreads(threads)
	return &gemmOut{g: ng}
}

// run computes m rows into out (row stride N); fill writes activation rows
// as qkernels.Gemm.Run describes. The buffers are the interpreter's, sized
// by Allocate: an error here is a programming error.
func (g *gemmOut) run(fill func(dst []uint8, i0, n int), m int, out []int8) {
	g.runStrided(fill, m, out, g.g.Weights().N())
}

// runStrided is run with output row i at out[i*ldo:] (ldo >= N): the N
// columns of a wider output, a channel group's share of a grouped
// convolution.
func (g *gemmOut) runStrided(fill func(dst []uint8, i0, n int), m int, out []int8, ldo int) {
	if err := g.g.Run(fill, m, out, ldo); err != nil {
		panic(err)
	}
}

// KernelPath names the int8 kernel path new interpreters use: "generic",
// "avx2" or "avx512vnni" (the fastest the CPU supports, capped by the
// environment variable GOQAT_INT8_PATH).
func KernelPath() string { return qkernels.ActivePath().String() }
