package qkernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkDWPairs times the two halves of the pair-row depthwise kernel
// on one thread for MobileNet V2's depthwise widths: PairRow (input
// elements per second) and Rows at stride 1 (output elements per second),
// by wall clock and by the thread's CPU time (cpu metrics: robust to a
// shared machine).
func BenchmarkDWPairs(b *testing.B) {
	if !supported(VNNI) {
		b.Skip("no VNNI")
	}
	defer SetPath(VNNI)()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range []struct{ w, c int }{{112, 32}, {56, 144}, {14, 576}, {7, 960}} {
		c, w := g.c, g.w
		wp := w + 2
		x := make([]int8, w*c)
		row := make([]int32, wp*c+PairSlack)
		o, err := NewChannelOutput(c, make([]int32, c), smallMults(c, rng), 0, -128, 127)
		if err != nil {
			b.Fatal(err)
		}
		d, err := PackDWPairs(make([]int8, 9*c), c, 3, o)
		if err != nil || d == nil {
			b.Fatal("no pair kernel", err)
		}
		out := make([]int8, w*c)
		for _, part := range []string{"pairrow", "rows"} {
			b.Run(fmt.Sprintf("%dx%d/%s", w, c, part), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				for i := 0; i < b.N; i++ {
					if part == "pairrow" {
						d.PairRow(row, x, w, 1, wp, 1)
					} else {
						d.Rows(out, row, row, row, w, 1)
					}
				}
				cpu := threadCPU() - c0
				b.ReportMetric(float64(b.N*w*c)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				if cpu > 0 {
					b.ReportMetric(float64(b.N*w*c)/cpu/1e9, "cpuGelem/s")
				}
			})
		}
	}
}
