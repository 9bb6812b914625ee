package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmThreadIndependence checks that results are bit-identical for 1,
// 2, 3 and 5 threads on every path, for shapes that split along m and along
// n, with several k chunks and edge tiles.
func TestSgemmThreadIndependence(t *testing.T) {
	defer SetThreads(Threads())
	shapes := []gemmCase{
		{m: 301, n: 70, k: 600, alpha: 1, beta: 0},                              // split m, 3 k chunks
		{transA: true, m: 100, n: 64, k: 3000, alpha: 0.5, beta: 1},             // weight-gradient form
		{transB: true, m: 5, n: 1111, k: 77, alpha: 1, beta: -1, padA: 2},       // split n
		{transA: true, transB: true, m: 61, n: 61, k: 257, alpha: 2, beta: 0.5}, // both transposed
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, tc := range shapes {
			d := newGemmData(tc, r)
			var first []float32
			for _, th := range []int{1, 2, 3, 5} {
				SetThreads(th)
				c := append([]float32(nil), d.c...)
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, c[guardLen:], d.ldc)
				if first == nil {
					first = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
						t.Errorf("%v %v: %d threads differ from 1 thread at %d: %g vs %g", p, tc, th, i, c[i], first[i])
						break
					}
				}
			}
		}
		restore()
	}
}

// TestSgemmNoAllocs checks that Sgemm does not allocate in steady state,
// single-threaded and multithreaded.
func TestSgemmNoAllocs(t *testing.T) {
	defer SetThreads(Threads())
	r := rand.New(rand.NewPCG(5, 5))
	tc := gemmCase{m: 200, n: 96, k: 300, alpha: 1, beta: 0}
	d := newGemmData(tc, r)
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, th := range []int{1, 2} {
			SetThreads(th)
			allocs := testing.AllocsPerRun(20, func() {
				Sgemm(false, false, tc.m, tc.n, tc.k, 1, d.a, d.lda, d.b, d.ldb, 0, d.cview(), d.ldc)
			})
			if allocs != 0 {
				t.Errorf("%v, %d threads: %v allocations per call, want 0", p, th, allocs)
			}
		}
		restore()
	}
}
