package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmChunkDepthPieces checks SgemmChunkDepth's promise on every
// path: a product with transposed A (a weight gradient, col^T x d) cut
// along k into pieces of whole chunks, each of the same chunk depth, and
// multiplied with beta 1 after the first piece, has the bits of the single
// Sgemm call, on shapes of one to seven chunks with a shorter last one.
func TestSgemmChunkDepthPieces(t *testing.T) {
	forEachBNPath(t, func(t *testing.T, p Path) {
		r := rand.New(rand.NewPCG(81, 82))
		for _, sh := range [][3]int{{16, 16, 1000}, {27, 7, 700}, {144, 32, 2000}, {50, 64, 641}, {16, 5, 321}} {
			m, n, k := sh[0], sh[1], sh[2]
			a := make([]float32, k*m) // op(A) = A^T: stored (k, m)
			b := make([]float32, k*n)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			c0 := make([]float32, m*n)
			for i := range c0 {
				c0[i] = float32(r.NormFloat64())
			}
			want := append([]float32(nil), c0...)
			Sgemm(true, false, m, n, k, 1, a, m, b, n, 0.5, want, n)
			dep := SgemmChunkDepth(n, k)
			if dep <= 0 || dep > k {
				t.Fatalf("%v: depth %d of k %d", sh, dep, k)
			}
			piecewise := func(pieceOf func(p0 int) int) []float32 {
				c := append([]float32(nil), c0...)
				for p0, beta := 0, float32(0.5); p0 < k; beta = 1 {
					pr := min(pieceOf(p0), k-p0)
					Sgemm(true, false, m, n, pr, 1, a[p0*m:], m, b[p0*n:], n, beta, c, n)
					p0 += pr
				}
				return c
			}
			got := piecewise(func(int) int { return dep }) // one chunk per piece
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v %v: c[%d] = %v piecewise, want %v", p, sh, i, got[i], want[i])
				}
			}
		}
	})
}
