package ops

import (
	"math/rand/v2"
	"testing"
)

// mnistConvs are the convolutions of mnist-cnn at batch 128 (3x3, valid).
var mnistConvs = []struct {
	name       string
	h, w, c, f int
}{
	{"conv1_28x28x1_32", 28, 28, 1, 32},
	{"conv2_26x26x32_64", 26, 26, 32, 64},
	{"conv3_12x12x64_64", 12, 12, 64, 64},
}

// benchChunk is how many images nn.Conv2D packs at a time for g (its
// convChunkFloats, 1<<21 floats of im2col matrix).
func benchChunk(g Geom) int { return max(1, (1<<21)/(g.OutPixels()*g.ColCols())) }

// BenchmarkIm2col packs a batch of 128 images as nn.Conv2D does, one
// cache-sized chunk of images at a time into one reused buffer. Bytes are
// those of the whole batch's col matrix.
func BenchmarkIm2col(b *testing.B) {
	for _, bc := range mnistConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := NewGeom(128, bc.h, bc.w, bc.c, 3, 3, 1, 1, false)
			in := randSlice(rand.New(rand.NewPCG(1, 1)), g.InSize())
			ci := benchChunk(g)
			col := make([]float32, ci*g.OutPixels()*g.ColCols())
			b.SetBytes(int64(4 * g.ColRows() * g.ColCols()))
			for i := 0; i < b.N; i++ {
				for n0 := 0; n0 < g.N; n0 += ci {
					Im2col(g, in, col, n0, min(n0+ci, g.N))
				}
			}
		})
	}
}

// BenchmarkCol2im gathers a batch of 128 images as nn.Conv2D does, one
// chunk of images at a time from one reused buffer.
func BenchmarkCol2im(b *testing.B) {
	for _, bc := range mnistConvs {
		b.Run(bc.name, func(b *testing.B) {
			g := NewGeom(128, bc.h, bc.w, bc.c, 3, 3, 1, 1, false)
			ci := benchChunk(g)
			col := randSlice(rand.New(rand.NewPCG(1, 1)), ci*g.OutPixels()*g.ColCols())
			dIn := make([]float32, g.InSize())
			b.SetBytes(int64(4 * g.ColRows() * g.ColCols()))
			for i := 0; i < b.N; i++ {
				for n0 := 0; n0 < g.N; n0 += ci {
					Col2im(g, col, dIn, n0, min(n0+ci, g.N))
				}
			}
		})
	}
}

// BenchmarkBiasGrad sums the columns of the output gradient of each
// mnist-cnn convolution at batch 128.
func BenchmarkBiasGrad(b *testing.B) {
	for _, bc := range mnistConvs {
		b.Run(bc.name, func(b *testing.B) {
			rows := 128 * (bc.h - 2) * (bc.w - 2)
			d := randSlice(rand.New(rand.NewPCG(1, 1)), rows*bc.f)
			dB := make([]float32, bc.f)
			scratch := make([]float32, BiasGradScratchSize(rows, bc.f))
			b.SetBytes(int64(4 * len(d)))
			for i := 0; i < b.N; i++ {
				BiasGrad(d, rows, bc.f, dB, scratch)
			}
		})
	}
}
