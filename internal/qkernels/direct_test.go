package qkernels

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/goqat/goqat/qmath"
)

// TestRunDirectEveryPath checks Gemm.RunDirect against refGemm on the
// rows it reads in place: a random padded "image" of width wp and height
// hp, C channels (C*KW a multiple of 4 bytes), windows KH x KW at stride
// sw, tiles of consecutive output positions, some rows discarded, the
// output rows scattered with guard bytes around them, on every path, with
// fused (rqFast) and unfused multipliers, on 1 and 2 threads. It fails if
// the fused VNNI kernel did not run on a CPU that has it.
func TestRunDirectEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	type geo struct{ c, kh, kw, sw, wp, hp, n int }
	geos := []geo{
		{4, 3, 3, 1, 9, 7, 5}, {32, 3, 3, 1, 13, 6, 64}, {8, 1, 1, 2, 11, 3, 33},
		{12, 5, 3, 1, 10, 8, 17}, {4, 2, 1, 2, 15, 5, 70}, {64, 3, 3, 2, 9, 5, 32}, {20, 1, 5, 1, 12, 2, 10},
	}
	fused := 0
	for _, p := range SupportedPaths() {
		for gi, gm := range geos {
			for _, fast := range []bool{false, true} {
				for _, th := range []int{1, 2} {
					what := fmt.Sprintf("%v geometry %d fast %v threads %d", p, gi, fast, th)
					seg := gm.kw * gm.c
					k, n := gm.kh*seg, gm.n
					ow := (gm.wp-gm.kw)/gm.sw + 1
					oh := gm.hp - gm.kh + 1
					src := make([]uint8, gm.hp*gm.wp*gm.c+MR*gm.sw*gm.c)
					for i := range src {
						src[i] = uint8(rng.IntN(256))
						if i%13 == 0 {
							src[i] = []uint8{0, 255}[i/13%2]
						}
					}
					w := make([]int8, k*n)
					for i := range w {
						w[i] = int8(rng.IntN(256) - 128)
					}
					bias := make([]int32, n)
					for i := range bias {
						bias[i] = rng.Int32N(1<<20) - 1<<19
					}
					zpIn := rng.Int32N(256) - 128
					mult := randMults(n, rng)
					if fast {
						mult = smallMults(n, rng)
					}
					if fast && th == 2 {
						// No column with Shift 32: the H0 kernel.
						for j := range mult {
							if mult[j].Shift == 32 {
								mult[j], _ = qmath.NewMultiplier(0.003)
							}
						}
					}
					zp := rng.Int32N(256) - 128
					lo, hi := int32(-128), int32(127)
					if rng.IntN(2) == 0 {
						lo, hi = max(zp, -128), min(zp+60, 127)
					}
					// The rows, in (oy, ox) order, as plain int8 for the reference.
					m := oh * ow
					a := make([]int8, m*k)
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							for ky := 0; ky < gm.kh; ky++ {
								for i := 0; i < seg; i++ {
									a[(oy*ow+ox)*k+ky*seg+i] = int8(src[((oy+ky)*gm.wp+ox*gm.sw)*gm.c+i] ^ 0x80)
								}
							}
						}
					}
					want := refGemm(a, m, k, w, n, bias, zpIn, mult, zp, lo, hi)
					pw, err := PackWeights(p, w, k, n)
					if err != nil {
						t.Fatal(err)
					}
					o, err := NewOutput(pw, bias, zpIn, mult, zp, lo, hi)
					if err != nil {
						t.Fatal(err)
					}
					g, err := NewGemm(pw, o)
					if err != nil {
						t.Fatal(err)
					}
					g.SetThreads(th)
					// Tiles along each output row, the last one partial; output
					// row i at i*ldo.
					ldo := n + 3
					per := (ow + MR - 1) / MR
					d := &Direct{Src: src, Lda: gm.sw * gm.c, Segs: gm.kh, SegStep: gm.wp * gm.c,
						Tile: func(t int, outs *[MR]int) int {
							oy, x0 := t/per, t%per*MR
							for r := range outs {
								outs[r] = -1
								if x0+r < ow {
									outs[r] = (oy*ow + x0 + r) * ldo
								}
							}
							return (oy*gm.wp + x0*gm.sw) * gm.c
						}}
					out := make([]int8, m*ldo+5)
					for i := range out {
						out[i] = guard
					}
					if g.Fused(d.Segs) {
						fused++
					}
					// The post hook sees each output row once, final.
					cover := make([]atomic.Int32, len(out))
					var early atomic.Int32
					g.SetPost(func(off, cnt int) {
						for j := 0; j < cnt; j++ {
							cover[off+j].Add(1)
							if out[off+j] != want[off/ldo*n+off%ldo+j] {
								early.Add(1)
							}
						}
					})
					if err := g.RunDirect(d, oh*per, out); err != nil {
						t.Fatal(err)
					}
					g.SetPost(nil)
					for i := 0; i < m; i++ {
						for j := 0; j < ldo; j++ {
							if c := cover[i*ldo+j].Load(); c != int32(min(1, max(0, n-j))) {
								t.Fatalf("%s: the post hook covered out[%d][%d] %d times", what, i, j, c)
							}
						}
					}
					if early.Load() != 0 {
						t.Fatalf("%s: the post hook saw %d values before they were final", what, early.Load())
					}
					for i := 0; i < m; i++ {
						for j := 0; j < ldo; j++ {
							got := out[i*ldo+j]
							if j >= n {
								if got != guard {
									t.Fatalf("%s: guard at row %d col %d overwritten", what, i, j)
								}
							} else if got != want[i*n+j] {
								t.Fatalf("%s: out[%d][%d] = %d, want %d", what, i, j, got, want[i*n+j])
							}
						}
					}
					for _, v := range out[m*ldo:] {
						if v != guard {
							t.Fatalf("%s: guard past the end overwritten", what)
						}
					}
				}
			}
		}
	}
	if supported(VNNI) && fused == 0 {
		t.Error("the fused VNNI kernel of RunDirect did not run")
	}
	// Segments that do not split K into multiples of 4.
	pw, _ := PackWeights(Generic, make([]int8, 18*4), 18, 4)
	o, _ := NewOutput(pw, nil, 0, smallMults(4, rng), 0, -128, 127)
	g, _ := NewGemm(pw, o)
	if err := g.RunDirect(&Direct{Segs: 3}, 1, nil); err == nil {
		t.Error("RunDirect accepted segments of 6 bytes")
	}
}
