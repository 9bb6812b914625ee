package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchGemm times Sgemm on one shape and reports GFLOP/s (2*m*n*k flops per
// call).
func benchGemm(b *testing.B, transA, transB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 2))
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	a := fillMatrix(ar, ac, ac, r)
	bm := fillMatrix(br, bc, bc, r)
	c := make([]float32, m*n)
	Sgemm(transA, transB, m, n, k, 1, a, ac, bm, bc, 0, c, n) // warm the pools
	b.ResetTimer()
	for b.Loop() {
		Sgemm(transA, transB, m, n, k, 1, a, ac, bm, bc, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm512 is 512x512x512 on one thread, per path.
func BenchmarkSgemm512(b *testing.B) {
	defer SetThreads(Threads())
	SetThreads(1)
	for _, p := range SupportedPaths() {
		b.Run(p.String(), func(b *testing.B) {
			defer SetPath(p)()
			benchGemm(b, false, false, 512, 512, 512)
		})
	}
}

// cnnShapes are the GEMMs of training mnist-cnn at batch 128 (im2col
// convolutions and the dense layer) and of float inference.
var cnnShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"conv1_fwd_73728x32x9", false, false, 73728, 32, 9},
	{"conv2_fwd_73728x64x288", false, false, 73728, 64, 288},
	{"conv3_fwd_12800x64x576", false, false, 12800, 64, 576},
	{"conv2_dW_tA_288x64x73728", true, false, 288, 64, 73728},
	{"conv2_dX_tB_73728x288x64", false, true, 73728, 288, 64},
	{"dense_fwd_1x10x6400", false, false, 1, 10, 6400},
	{"dense_fwd_64x10x6400", false, false, 64, 10, 6400},
	{"dense_dW_tA_6400x10x128", true, false, 6400, 10, 128},
	{"dense_dX_tB_128x6400x10", false, true, 128, 6400, 10},
	{"square_512", false, false, 512, 512, 512},
	{"square_512_tA", true, false, 512, 512, 512},
	{"square_512_tB", false, true, 512, 512, 512},
	{"square_512_tAtB", true, true, 512, 512, 512},
}

// BenchmarkSgemmCNN times the mnist-cnn shapes on 2 threads, per path.
func BenchmarkSgemmCNN(b *testing.B) {
	defer SetThreads(Threads())
	SetThreads(2)
	for _, s := range cnnShapes {
		for _, p := range SupportedPaths() {
			b.Run(fmt.Sprintf("%s/%v", s.name, p), func(b *testing.B) {
				defer SetPath(p)()
				benchGemm(b, s.transA, s.transB, s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkPackB times packing a 320x512 block of op(B) into 32-wide
// micro-panels, from B (N) and from its transpose (T), per element packed.
func BenchmarkPackB(b *testing.B) {
	const kc, nc, nr, ld = 320, 512, 32, 512
	src := make([]float32, ld*ld)
	dst := make([]float32, kc*nc)
	for _, tr := range []bool{false, true} {
		b.Run(map[bool]string{false: "N", true: "T"}[tr], func(b *testing.B) {
			for b.Loop() {
				packB(dst, src, ld, tr, 0, kc, 0, nc, nr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(kc*nc), "ns/elem")
		})
	}
}
