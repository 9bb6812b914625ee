//go:build amd64 && !noasm

package qkernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkTileKernel times one fused 12x32 VNNI tile (dot products and
// output stage) at several K, in ns of the thread's CPU time per call, so
// that the output stage's fixed cost shows against the products'.
func BenchmarkTileKernel(b *testing.B) {
	if !hasVNNI {
		b.Skip("no VNNI")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kq := range []int{1, 4, 16, 64} {
		k := 4 * kq
		w := make([]int8, k*32)
		pw, err := PackWeights(VNNI, w, k, 32)
		if err != nil {
			b.Fatal(err)
		}
		o, err := NewOutput(pw, make([]int32, 32), 0, smallMults(32, rng), 0, -128, 127)
		if err != nil {
			b.Fatal(err)
		}
		p0, p1, ok, _ := o.fastPair(0, 32)
		if !ok {
			b.Fatal("not fast")
		}
		a := make([]uint8, MR*RowStride(k)+64)
		out := make([]int8, MR*32)
		for _, v := range []string{"H0F", "full"} {
			b.Run(fmt.Sprintf("k%d/%s", k, v), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				for i := 0; i < b.N; i++ {
					if v == "H0F" {
						dotRqVNNI12x32H0F(&a[0], RowStride(k), &pw.b8[0], kq, p0, p1, -128, 127, &out[0], 32, MR, 32)
					} else {
						dotRqVNNI12x32(&a[0], RowStride(k), &pw.b8[0], kq, p0, p1, -128, 127, &out[0], 32, MR, 32)
					}
				}
				b.ReportMetric((threadCPU()-c0)*1e9/float64(b.N), "cpu-ns/tile")
			})
		}
	}
}
