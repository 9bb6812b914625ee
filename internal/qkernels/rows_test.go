package qkernels

import (
	"math/rand/v2"
	"testing"
)

// TestRowHelpersEveryPath checks MaxRow, MulAddRow and Output.Rows on every
// path against plain loops, on odd lengths, with a guard past the end.
func TestRowHelpersEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 64, 100} {
			dst, src := make([]int8, n+1), make([]int8, n)
			want := make([]int8, n)
			for i := range src {
				dst[i], src[i] = int8(rng.IntN(256)-128), int8(rng.IntN(256)-128)
				want[i] = max(dst[i], src[i])
			}
			dst[n] = guard
			MaxRow(dst[:n], src)
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("%v MaxRow n=%d [%d] = %d, want %d", p, n, i, dst[i], want[i])
				}
			}
			if dst[n] != guard {
				t.Fatalf("%v MaxRow n=%d: guard overwritten", p, n)
			}

			acc, x, w := make([]int32, n+1), make([]int8, n), make([]int8, n)
			wantAcc := make([]int32, n)
			zp := rng.Int32N(256) - 128
			for i := range x {
				acc[i] = int32(rng.Uint32())
				x[i], w[i] = int8(rng.IntN(256)-128), int8(rng.IntN(256)-128)
				wantAcc[i] = acc[i] + (int32(x[i])-zp)*int32(w[i])
			}
			acc[n] = 12345
			MulAddRow(acc[:n], x, w, zp)
			for i := range wantAcc {
				if acc[i] != wantAcc[i] {
					t.Fatalf("%v MulAddRow n=%d [%d] = %d, want %d", p, n, i, acc[i], wantAcc[i])
				}
			}
			if acc[n] != 12345 {
				t.Fatalf("%v MulAddRow n=%d: guard overwritten", p, n)
			}

			bias := make([]int32, n)
			for i := range bias {
				bias[i] = rng.Int32N(1000) - 500
			}
			o, err := NewChannelOutput(n, bias, randMults(n, rng), rng.Int32N(256)-128, -100, 120)
			if err != nil {
				t.Fatal(err)
			}
			rows, ldc, ldo := 3, n+2, n+1
			a := make([]int32, rows*ldc)
			for i := range a {
				a[i] = rng.Int32N(1<<24) - 1<<23
			}
			out := make([]int8, rows*ldo)
			for i := range out {
				out[i] = guard
			}
			o.Rows(a, ldc, rows, out, ldo)
			for r := 0; r < rows; r++ {
				for j := 0; j < ldo; j++ {
					got := out[r*ldo+j]
					if j == n {
						if got != guard {
							t.Fatalf("%v Rows n=%d: guard overwritten", p, n)
						}
						continue
					}
					if want := o.finish(j, a[r*ldc+j]); got != want {
						t.Fatalf("%v Rows n=%d [%d][%d] = %d, want %d", p, n, r, j, got, want)
					}
					if o.offset[j] != bias[j] {
						t.Fatalf("channel output offset %d, want the bias %d", o.offset[j], bias[j])
					}
				}
			}
		}
		restore()
		ran[p] = true
	}
	checkCPUPathsRan(t, ran)
}

func TestPackSegmentsEveryPath(t *testing.T) {
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, n := range []int{1, 3, 31, 63, 64, 65, 96, 130} {
			for _, count := range []int{1, 3} {
				stride := n + 7
				src := make([]int8, (count-1)*stride+n)
				for i := range src {
					src[i] = int8(i*29 + 3)
				}
				dst := make([]uint8, count*n+1)
				dst[count*n] = 0xa5
				PackSegments(dst, src, n, stride, count)
				for c := 0; c < count; c++ {
					for i := 0; i < n; i++ {
						if want := uint8(src[c*stride+i]) ^ 0x80; dst[c*n+i] != want {
							t.Fatalf("%v n=%d count=%d: [%d][%d] = %d, want %d", p, n, count, c, i, dst[c*n+i], want)
						}
					}
				}
				if dst[count*n] != 0xa5 {
					t.Fatalf("%v n=%d count=%d: guard overwritten", p, n, count)
				}
			}
		}
		restore()
		ran[p] = true
	}
	checkCPUPathsRan(t, ran)
}
