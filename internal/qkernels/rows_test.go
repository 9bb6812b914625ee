package qkernels

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/qmath"
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

func TestAddRowsEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	ran := map[Path]bool{}
	ran16 := false
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for trial := 0; trial < 400; trial++ {
			ra, rb := 0.1+2*rng.Float64(), 0.1+2*rng.Float64()
			if trial%5 == 0 {
				ra, rb = 0.5, 0.25 // exact ties
			}
			m, shift, err := qmath.CommonMultipliers(ra, rb)
			if err != nil {
				t.Fatal(err)
			}
			switch trial % 7 {
			case 1: // the 16-lane loop's edges: shifts 17 and 47, mantissas near 2^31
				shift = 17 + 30*uint(rng.IntN(2))
				m[0], m[1] = 1<<31-1-rng.Int64N(1<<16), rng.Int64N(1<<31)
			case 2: // outside it: shifts below 17 and above 47
				shift = []uint{1, 5, 16, 48, 62}[rng.IntN(5)]
				m[0], m[1] = rng.Int64N(1<<31), rng.Int64N(1<<31)
			}
			ap, err := NewAddParams(int64(rng.IntN(256)-128), int64(rng.IntN(256)-128), m[0], m[1], shift, int64(rng.IntN(256)-128), -128+int64(rng.IntN(30)), 127-int64(rng.IntN(30)))
			if err != nil {
				t.Fatal(err)
			}
			if ap.w16 != nil && p == VNNI {
				ran16 = true
			}
			n := 1 + rng.IntN(70)
			if trial%3 == 0 {
				n = 16*(1+rng.IntN(20)) + rng.IntN(16)
			}
			a, b, y := make([]int8, n), make([]int8, n), make([]int8, n+1)
			for i := range a {
				a[i], b[i] = int8(rng.IntN(256)-128), int8(rng.IntN(256)-128)
			}
			y[n] = guard
			AddRows(y[:n], a, b, ap)
			for i := 0; i < n; i++ {
				s := (int64(a[i])-ap.ZpA)*ap.MA + (int64(b[i])-ap.ZpB)*ap.MB
				want := int8(min(max(qmath.RoundShift(s, shift)+ap.ZpOut, ap.Lo), ap.Hi))
				if y[i] != want {
					t.Fatalf("%v trial %d [%d]: %d, want %d", p, trial, i, y[i], want)
				}
			}
			if y[n] != guard {
				t.Fatalf("%v: guard overwritten", p)
			}
		}
		restore()
		ran[p] = true
	}
	checkCPUPathsRan(t, ran)
	if hasVNNI && !ran16 {
		t.Fatal("the 16-lane VNNI Add loop never ran")
	}
}

func TestDepthwiseRowsEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, c := range []int{1, 7, 16, 24, 33, 72} {
			for _, taps := range []int{1, 2, 4, 9, 25} {
				n, step := 1+rng.IntN(6), c+rng.IntN(3*c)
				offs := make([]int, taps)
				for i := range offs {
					offs[i] = rng.IntN(4 * c)
				}
				slack := 0
				if taps%2 == 0 {
					slack = Overread // enough for the AVX2 kernel; otherwise it may fall back
				}
				x := make([]int8, (n-1)*step+4*c+c+slack)
				for i := range x {
					x[i] = int8(rng.IntN(256) - 128)
				}
				w := make([]int8, taps*c)
				for i := range w {
					w[i] = int8(rng.IntN(256) - 128)
					if rng.IntN(8) == 0 {
						w[i] = -128
					}
				}
				zp := rng.Int32N(256) - 128
				d, err := PackDepthwise(w, offs, c, zp)
				if err != nil {
					t.Fatal(err)
				}
				acc := make([]int32, n*c+3)
				for i := range acc {
					acc[i] = 777 // overwritten, then guards
				}
				before := dwAsmRows.Load()
				d.DepthwiseRows(acc[:n*c], x, n, step)
				if p != Generic && slack > 0 && dwAsmRows.Load() == before {
					t.Fatalf("%v c=%d taps=%d: the assembly kernel did not run", p, c, taps)
				}
				for ox := 0; ox < n; ox++ {
					for ch := 0; ch < c; ch++ {
						var want int32
						for tp, o := range offs {
							want += (int32(x[ox*step+o+ch]) - zp) * int32(w[tp*c+ch])
						}
						if got := acc[ox*c+ch]; got != want {
							t.Fatalf("%v c=%d taps=%d n=%d pixel %d ch %d: %d, want %d", p, c, taps, n, ox, ch, got, want)
						}
					}
				}
				for i := n * c; i < len(acc); i++ {
					if acc[i] != 777 {
						t.Fatalf("%v c=%d taps=%d: guard %d overwritten", p, c, taps, i-n*c)
					}
				}
			}
		}
		restore()
		ran[p] = true
	}
	checkCPUPathsRan(t, ran)
}

// TestDepthwiseRowsRequant holds the fused 3x3 depthwise kernel to
// DepthwiseRows followed by Output.Rows, on channel counts around the
// 16-lane blocks, with guards after the output, and checks that it ran.
func TestDepthwiseRowsRequant(t *testing.T) {
	if !supported(VNNI) {
		t.Skip("no VNNI")
	}
	defer SetPath(VNNI)()
	rng := rand.New(rand.NewPCG(35, 36))
	ran := 0
	for _, c := range []int{1, 7, 16, 24, 33, 72, 96} {
		for trial := 0; trial < 4; trial++ {
			wp := 3 + rng.IntN(6)
			row := wp * c
			offs := make([]int, 9)
			for tp := range offs {
				offs[tp] = tp/3*row + tp%3*c
			}
			n, step := 1+rng.IntN(6), c*(1+rng.IntN(2))
			x := make([]int8, (n-1)*step+2*row+3*c)
			for i := range x {
				x[i] = int8(rng.IntN(256) - 128)
			}
			w := make([]int8, 9*c)
			for i := range w {
				w[i] = int8(rng.IntN(255) - 127)
			}
			zp := rng.Int32N(256) - 128
			d, err := PackDepthwise(w, offs, c, zp)
			if err != nil {
				t.Fatal(err)
			}
			bias := make([]int32, c)
			for i := range bias {
				bias[i] = rng.Int32N(1<<16) - 1<<15
			}
			zpOut := rng.Int32N(256) - 128
			lo, hi := int32(-128), int32(127)
			if trial%2 == 1 {
				lo = zpOut
			}
			o, err := NewChannelOutput(c, bias, smallMults(c, rng), zpOut, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			acc := make([]int32, n*c)
			d.DepthwiseRows(acc, x, n, step)
			want := make([]int8, n*c)
			o.Rows(acc, c, n, want, c)
			got := make([]int8, n*c+4)
			for i := range got {
				got[i] = guard
			}
			if !d.DepthwiseRowsRequant(got[:n*c], x, n, step, o) {
				t.Fatalf("c=%d: the fused kernel did not apply", c)
			}
			ran++
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("c=%d n=%d: out[%d] = %d, want %d", c, n, i, got[i], want[i])
				}
			}
			for i := n * c; i < len(got); i++ {
				if got[i] != guard {
					t.Fatalf("c=%d: guard overwritten", c)
				}
			}
		}
	}
	// A window other than 3x3 falls back.
	d, _ := PackDepthwise(make([]int8, 4), []int{0, 1, 2, 3}, 1, 0)
	o, _ := NewChannelOutput(1, nil, smallMults(1, rng), 0, -128, 127)
	if d.DepthwiseRowsRequant(make([]int8, 1), make([]int8, 4), 1, 1, o) {
		t.Error("a 2x2 window took the 3x3 kernel")
	}
	if ran == 0 {
		t.Error("the fused kernel never ran")
	}
}

// TestCopyWindows checks the im2col rows CopyWindows writes (their
// segments, not the bytes its moves may overrun into) and that it writes
// nothing past the last row's overrun, which stays below CopySlack.
func TestCopyWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, seg := range []int{1, 3, 5, 8, 9, 15, 16, 17, 21, 28, 31, 32, 33, 64, 70} {
		for _, kh := range []int{1, 3, 5} {
			n := 1 + rng.IntN(MR)
			rowStep := seg + rng.IntN(40)
			src := make([]uint8, 200+(kh-1)*rowStep+seg+CopySlack-1)
			for i := range src {
				src[i] = uint8(rng.IntN(256))
			}
			offs := make([]int, n)
			for i := range offs {
				offs[i] = rng.IntN(200)
			}
			lda := RowStride(kh * seg)
			m := copyMove(seg)
			words := (seg + m - 1) / m * m
			if words-seg >= CopySlack {
				t.Fatalf("seg=%d: moves of %d overrun by %d", seg, m, words-seg)
			}
			end := (n-1)*lda + (kh-1)*seg + words // the last byte written, plus one
			dst := make([]uint8, end+40)
			for i := range dst {
				dst[i] = 0xa5
			}
			CopyWindows(dst, lda, src, offs, kh, seg, rowStep)
			for r, o := range offs {
				for ky := 0; ky < kh; ky++ {
					for j := 0; j < seg; j++ {
						if got, want := dst[r*lda+ky*seg+j], src[o+ky*rowStep+j]; got != want {
							t.Fatalf("seg=%d kh=%d row %d ky %d byte %d: %d, want %d", seg, kh, r, ky, j, got, want)
						}
					}
				}
			}
			for i := end; i < len(dst); i++ {
				if dst[i] != 0xa5 {
					t.Fatalf("seg=%d kh=%d: byte %d past the last move written", seg, kh, i-end)
				}
			}
		}
	}
}
