package qkernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAccRow checks Acc's products of one to five rows (the one-row
// matrix-vector product and the 2-4-row kernel of the integer LSTM's
// recurrent step at a small batch) on every path against the reference
// sums, for column counts around the four-panel blocks of the VNNI
// kernels, with guard values around the outputs; and that the VNNI
// kernels ran where the CPU has them.
func TestAccRow(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 31))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		for _, k := range []int{1, 5, 128, 131} {
			for _, n := range []int{1, 31, 32, 100, 128, 129, 160, 200, 512, 515} {
				w := make([]int8, k*n)
				for i := range w {
					w[i] = int8(r.IntN(255) - 127)
				}
				pw, err := PackWeights(p, w, k, n)
				if err != nil {
					t.Fatal(err)
				}
				for m := 1; m <= 5; m++ {
					lda := RowStride(k)
					a := make([]uint8, PaddedRows(m)*lda)
					for i := range a {
						a[i] = uint8(r.IntN(256)) // the rows past m too: they must not matter
					}
					ldd := n + 5
					dst := make([]int32, m*ldd+40)
					for i := range dst {
						dst[i] = -7
					}
					if err := pw.Acc(a, lda, m, dst, ldd); err != nil {
						t.Fatal(err)
					}
					for idx := range dst {
						i, j := idx/ldd, idx%ldd
						want := int32(-7)
						if i < m && j < n {
							want = 0
							for kk := 0; kk < k; kk++ {
								want += int32(a[i*lda+kk]) * int32(w[kk*n+j])
							}
						}
						if dst[idx] != want {
							t.Fatalf("path %v k %d n %d m %d: dst[%d][%d] = %d, want %d", p, k, n, m, i, j, dst[idx], want)
						}
					}
				}
				ran[p] = true
			}
		}
	}
	checkCPUPathsRan(t, ran)
}

// TestRequant16 checks Requant16's assembly against its Go loop on odd
// column counts, random and extreme products, mantissas and shifts, with
// and without the added term, and guard values past the outputs; and that
// the assembly ran where the CPU has it.
func TestRequant16(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 32))
	vecRan := false
	extreme := []int32{math.MinInt32, math.MaxInt32, 0, 1, -1, 1 << 20, -(1 << 20)}
	for _, n := range []int{1, 7, 15, 16, 17, 33, 100, 512, 515} {
		for trial := 0; trial < 20; trial++ {
			m0 := make([]int64, n)
			sh := make([]uint, n)
			for j := range m0 {
				m0[j] = r.Int64N(1 << 31)
				switch r.IntN(4) {
				case 0:
					sh[j] = uint(1 + r.IntN(62))
				case 1:
					m0[j] = []int64{0, 1, math.MaxInt32, 1 << 30}[r.IntN(4)]
					sh[j] = []uint{1, 31, 32, 62}[r.IntN(4)]
				default:
					sh[j] = uint(30 + r.IntN(16))
				}
			}
			ref, err := NewRequant16(m0, sh, false)
			if err != nil {
				t.Fatal(err)
			}
			vec, err := NewRequant16(m0, sh, true)
			if err != nil {
				t.Fatal(err)
			}
			if vec.Vector() != hasVNNI || ref.Vector() {
				t.Fatalf("Vector() = %v, %v with AVX-512 %v", vec.Vector(), ref.Vector(), hasVNNI)
			}
			vecRan = vecRan || vec.Vector()
			a, off := make([]int32, n), make([]int32, n)
			add := make([]int16, n)
			for j := range a {
				a[j], off[j] = r.Int32()-r.Int32(), r.Int32N(1<<16)-1<<15
				if r.IntN(5) == 0 {
					a[j] = extreme[r.IntN(len(extreme))]
				}
				if r.IntN(3) == 0 {
					a[j] >>= r.IntN(31)
				}
				add[j] = int16(r.IntN(65536) - 32768)
				if r.IntN(4) == 0 {
					add[j] = []int16{-32768, 32767, 0}[r.IntN(3)]
				}
			}
			for _, ad := range [][]int16{nil, add} {
				want := make([]int16, n+20)
				got := make([]int16, n+20)
				for i := range got {
					got[i], want[i] = 12345, 12345
				}
				ref.Rows(a, off, ad, want)
				vec.Rows(a, off, ad, got)
				for j := range got {
					if got[j] != want[j] {
						t.Fatalf("n %d add %v: out[%d] = %d, want %d (a %d off %d m0 %d shift %d)", n, ad != nil, j, got[j], want[j],
							a[min(j, n-1)], off[min(j, n-1)], m0[min(j, n-1)], sh[min(j, n-1)])
					}
				}
			}
		}
	}
	if hasVNNI && !vecRan {
		t.Error("CPU has AVX-512 but the Requant16 assembly did not run")
	}
	if _, err := NewRequant16([]int64{1}, []uint{0}, true); err == nil {
		t.Error("NewRequant16 accepted shift 0")
	}
	if _, err := NewRequant16([]int64{1 << 31}, []uint{5}, true); err == nil {
		t.Error("NewRequant16 accepted a 32-bit mantissa")
	}
}
