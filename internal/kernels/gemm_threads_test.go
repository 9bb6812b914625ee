package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/workers"
)

// TestSgemmThreadIndependence checks that results are bit-identical for 1,
// 2, 3 and 5 threads on every path, for shapes that split along m and along
// n, with several k chunks and edge tiles.
func TestSgemmThreadIndependence(t *testing.T) {
	defer SetThreads(Threads())
	// Each shape is large enough (m*n*k >= 5*minWorkPerThread) to be split
	// five ways.
	shapes := []gemmCase{
		{m: 301, n: 70, k: 600, alpha: 1, beta: 0},                                // split m, 2 k chunks
		{transA: true, m: 100, n: 64, k: 3000, alpha: 0.5, beta: 1},               // weight-gradient form
		{transB: true, m: 5, n: 7111, k: 77, alpha: 1, beta: -1, padA: 2},         // split n
		{transA: true, transB: true, m: 161, n: 161, k: 257, alpha: 2, beta: 0.5}, // both transposed
		{m: 3, n: 9001, k: 100, alpha: 1, beta: 0.5, padB: 1},                     // row kernel, split n
		{transA: true, m: 3, n: 32, k: 30000, alpha: 1, beta: 0},                  // row kernel, split m (a first conv's dW)
		{m: 3, n: 40, k: 5000, alpha: 1, beta: 1, padA: 1},                        // row kernel, m or n by thread count
		{m: 1000, n: 10, k: 300, alpha: 1, beta: 0},                               // narrow tiles on AVX-512
	}
	// The two row-kernel cases with few columns have only 3 rows to split
	// (and at most 3 column blocks): at most 3 parts.
	maxParts := []int{5, 5, 5, 5, 5, 3, 3, 5}
	for _, tc := range shapes {
		if tc.m*tc.n*tc.k < 5*minWorkPerThread {
			t.Fatalf("%v: too small to be split five ways", tc)
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for si, tc := range shapes {
			d := newGemmData(tc, r)
			var first []float32
			for _, th := range []int{1, 2, 3, 5} {
				SetThreads(th)
				c := append([]float32(nil), d.c...)
				before := workers.HandedOff()
				Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, c[guardLen:], d.ldc)
				if parts, want := workers.HandedOff()-before, min(th, maxParts[si])-1; parts != int64(want) {
					t.Errorf("%v %v: %d threads handed %d parts to workers, want %d", p, tc, th, parts, want)
				}
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
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
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

// TestSgemmSerial checks that SgemmSerial gives Sgemm's bits on every path
// for the shapes of TestSgemmThreadIndependence, with 2 threads set, and
// hands no part to a worker.
func TestSgemmSerial(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(2)
	shapes := []gemmCase{
		{m: 301, n: 70, k: 600, alpha: 1, beta: 0},
		{transA: true, m: 100, n: 64, k: 3000, alpha: 0.5, beta: 1},
		{transB: true, m: 5, n: 7111, k: 77, alpha: 1, beta: -1, padA: 2},
		{transA: true, transB: true, m: 161, n: 161, k: 257, alpha: 2, beta: 0.5},
		{m: 3, n: 9001, k: 100, alpha: 1, beta: 0.5, padB: 1},
		{transB: true, m: 577, n: 288, k: 64, alpha: 1, beta: 0},
	}
	r := rand.New(rand.NewPCG(4, 4))
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, tc := range shapes {
			d := newGemmData(tc, r)
			want := append([]float32(nil), d.c...)
			got := append([]float32(nil), d.c...)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, want[guardLen:], d.ldc)
			before := workers.HandedOff()
			SgemmSerial(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, d.a, d.lda, d.b, d.ldb, tc.beta, got[guardLen:], d.ldc)
			if parts := workers.HandedOff() - before; parts != 0 {
				t.Errorf("%v %v: SgemmSerial handed %d parts to workers", p, tc, parts)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("%v %v: SgemmSerial differs from Sgemm at %d: %g vs %g", p, tc, i, got[i], want[i])
					break
				}
			}
		}
		restore()
	}
}
