package qkernels

import (
	"math/rand/v2"
	"testing"
)

// TestAccPaths checks Acc on every supported path against the reference
// sums on odd shapes, with guard values around the outputs, and that
// every path the CPU supports ran.
func TestAccPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 30))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		for _, k := range []int{1, 3, 5, 17, 130} {
			for _, n := range []int{1, 7, 16, 33, 70} {
				w := make([]int8, k*n)
				for i := range w {
					w[i] = int8(r.IntN(255) - 127)
				}
				pw, err := PackWeights(p, w, k, n)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range []int{1, 4, 5, 12, 13, 30} {
					lda := RowStride(k)
					a := make([]uint8, PaddedRows(m)*lda)
					for i := range a {
						a[i] = uint8(r.IntN(256)) // the padding too: it must not matter
					}
					ldd := n + 3
					dst := make([]int32, m*ldd)
					for i := range dst {
						dst[i] = -7
					}
					if err := pw.Acc(a, lda, m, dst, ldd); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < m; i++ {
						for j := 0; j < ldd; j++ {
							want := int32(-7)
							if j < n {
								want = 0
								for kk := 0; kk < k; kk++ {
									want += int32(a[i*lda+kk]) * int32(w[kk*n+j])
								}
							}
							if got := dst[i*ldd+j]; got != want {
								t.Fatalf("path %v k %d n %d m %d: dst[%d][%d] = %d, want %d", p, k, n, m, i, j, got, want)
							}
						}
					}
				}
				ran[p] = true
			}
		}
	}
	checkCPUPathsRan(t, ran)
	pw, _ := PackWeights(Generic, make([]int8, 6), 3, 2)
	if err := pw.Acc(make([]uint8, 4), 4, 2, make([]int32, 4), 2); err == nil {
		t.Error("Acc accepted a short activation buffer")
	}
}
