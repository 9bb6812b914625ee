package lite

import (
	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/lite/fixedpoint"
)

// gemmOut is the int8 matrix product with requantization shared by Conv2D
// (on the im2col matrix) and FullyConnected:
//
//	acc[m][n] = bias[n] + sum_k (a[m][k] - zpIn) * w[k][n]
//	out[m][n] = clamp(M[n]*acc + zpOut, lo, hi)
//
// with sum_k zpIn*w[k][n] precomputed. a (M,K), w (K,N), out (M,N). The
// kernel is held transposed (N,K) so that every dot product runs over
// contiguous K; rows of a are split across threads (each output is computed
// by one thread in a fixed order: the result does not depend on the thread
// count).
type gemmOut struct {
	k, nOut int
	wt      []int8  // (N, K)
	offset  []int32 // bias[n] - zpIn * sum_k w[k][n]
	mult    []fixedpoint.Multiplier
	zpOut   int32
	lo, hi  int32

	a, out []int8           // operands of the current run
	rowsFn func(lo, hi int) // g.rows, bound once
}

// newGemmOut precomputes the constants.
func newGemmOut(w []int8, k, n int, bias []int32, zpIn int32, mult []fixedpoint.Multiplier, zpOut, lo, hi int32) *gemmOut {
	g := &gemmOut{k: k, nOut: n, wt: make([]int8, k*n), offset: make([]int32, n), mult: mult, zpOut: zpOut, lo: lo, hi: hi}
	for j := 0; j < n; j++ {
		s := int32(0)
		for i := 0; i < k; i++ {
			v := w[i*n+j]
			g.wt[j*k+i] = v
			s += int32(v)
		}
		b := int32(0)
		if bias != nil {
			b = bias[j]
		}
		g.offset[j] = b - zpIn*s
	}
	g.rowsFn = g.rows
	return g
}

// run computes rows [0, m) of a into out.
func (g *gemmOut) run(a []int8, m int, out []int8) {
	g.a, g.out = a, out
	grain := max(1, 4096/max(1, g.k*g.nOut/64))
	kernels.ParallelFor(m, grain, g.rowsFn)
	g.a, g.out = nil, nil
}

// rows computes output rows [lo, hi).
func (g *gemmOut) rows(lo, hi int) {
	K, N := g.k, g.nOut
	for r := lo; r < hi; r++ {
		row := g.a[r*K : (r+1)*K]
		o := g.out[r*N : (r+1)*N]
		j := 0
		for ; j+4 <= N; j += 4 {
			w0 := g.wt[j*K : (j+1)*K]
			w1 := g.wt[(j+1)*K : (j+2)*K]
			w2 := g.wt[(j+2)*K : (j+3)*K]
			w3 := g.wt[(j+3)*K : (j+4)*K]
			w0, w1, w2, w3 = w0[:len(row)], w1[:len(row)], w2[:len(row)], w3[:len(row)]
			var s0, s1, s2, s3 int32
			for i, av := range row {
				x := int32(av)
				s0 += x * int32(w0[i])
				s1 += x * int32(w1[i])
				s2 += x * int32(w2[i])
				s3 += x * int32(w3[i])
			}
			o[j] = g.requant(j, s0)
			o[j+1] = g.requant(j+1, s1)
			o[j+2] = g.requant(j+2, s2)
			o[j+3] = g.requant(j+3, s3)
		}
		for ; j < N; j++ {
			w0 := g.wt[j*K : (j+1)*K]
			w0 = w0[:len(row)]
			var s0 int32
			for i, av := range row {
				s0 += int32(av) * int32(w0[i])
			}
			o[j] = g.requant(j, s0)
		}
	}
}

// requant finishes output channel j from its raw dot product.
func (g *gemmOut) requant(j int, dot int32) int8 {
	return int8(fixedpoint.Requantize(g.offset[j]+dot, g.mult[j], g.zpOut, g.lo, g.hi))
}
