package qkernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMaxWindowsEveryPath checks MaxWindows against its loop on every
// path, channel counts around the 64-lane step, windows of one to nine
// taps, with guard bytes after the output; it fails if a path the CPU has
// did not run.
func TestMaxWindowsEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	ran := map[Path]bool{}
	for _, p := range SupportedPaths() {
		restore := SetPath(p)
		for _, c := range []int{1, 5, 63, 64, 65, 130} {
			for _, win := range [][2]int{{1, 1}, {2, 2}, {3, 3}, {1, 3}} {
				kh, kw, sw, w, n := win[0], win[1], 2, 13, 5
				var offs []int
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						offs = append(offs, (ky*w+kx)*c)
					}
				}
				x := make([]int8, kh*w*c)
				for i := range x {
					x[i] = int8(rng.IntN(256) - 128)
				}
				y := make([]int8, n*c+3)
				for i := range y {
					y[i] = guard
				}
				MaxWindows(y, x, offs, n, c, sw*c)
				what := fmt.Sprintf("%v c=%d window %v", p, c, win)
				for ox := 0; ox < n; ox++ {
					for ch := 0; ch < c; ch++ {
						m := int8(-128)
						for _, o := range offs {
							m = max(m, x[ox*sw*c+o+ch])
						}
						if y[ox*c+ch] != m {
							t.Fatalf("%s: y[%d][%d] = %d, want %d", what, ox, ch, y[ox*c+ch], m)
						}
					}
				}
				for _, v := range y[n*c:] {
					if v != guard {
						t.Fatalf("%s: guard overwritten", what)
					}
				}
			}
		}
		ran[p] = true
		restore()
	}
	checkCPUPathsRan(t, ran)
}
