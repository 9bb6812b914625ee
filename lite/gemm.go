package lite

import "github.com/goqat/goqat/lite/fixedpoint"

// gemmOut is the int8 matrix product with requantization shared by Conv2D
// (on the im2col matrix) and FullyConnected:
//
//	acc[m][n] = bias[n] + sum_k (a[m][k] - zpIn) * w[k][n]
//	out[m][n] = clamp(M[n]*acc + zpOut, lo, hi)
//
// with sum_k zpIn*w[k][n] precomputed. a (M,K), w (K,N), out (M,N).
type gemmOut struct {
	k, nOut int
	w       []int8  // (K, N)
	offset  []int32 // bias[n] - zpIn * sum_k w[k][n]
	mult    []fixedpoint.Multiplier
	zpOut   int32
	lo, hi  int32
	acc     []int32 // (N) scratch
}

// newGemmOut precomputes the constants.
func newGemmOut(w []int8, k, n int, bias []int32, zpIn int32, mult []fixedpoint.Multiplier, zpOut, lo, hi int32) *gemmOut {
	g := &gemmOut{k: k, nOut: n, w: w, offset: make([]int32, n), mult: mult, zpOut: zpOut, lo: lo, hi: hi, acc: make([]int32, n)}
	for j := 0; j < n; j++ {
		s := int32(0)
		for i := 0; i < k; i++ {
			s += int32(w[i*n+j])
		}
		b := int32(0)
		if bias != nil {
			b = bias[j]
		}
		g.offset[j] = b - zpIn*s
	}
	return g
}

// run computes rows [0, m) of a into out.
func (g *gemmOut) run(a []int8, m int, out []int8) {
	K, N := g.k, g.nOut
	acc := g.acc[:N]
	for r := 0; r < m; r++ {
		copy(acc, g.offset)
		row := a[r*K : (r+1)*K]
		for i, av := range row {
			if av == 0 {
				continue
			}
			x := int32(av)
			wr := g.w[i*N : (i+1)*N]
			wr = wr[:len(acc)]
			for j, wv := range wr {
				acc[j] += x * int32(wv)
			}
		}
		o := out[r*N : (r+1)*N]
		o = o[:len(acc)]
		for j, v := range acc {
			o[j] = requant(v, g.mult[j], g.zpOut, g.lo, g.hi)
		}
	}
}
