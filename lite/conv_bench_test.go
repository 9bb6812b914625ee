package lite

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// BenchmarkConvOps times single Conv2D and DepthwiseConv2D ops of the
// shapes that dominate the built-in networks (mnist-cnn's second
// convolution, ResNet-50's 3x3 and 1x1 layers, MobileNet V2's depthwise
// layers at 112x112 and 56x56) on one thread at the batch a share of a
// split batch sees; GOPS counts a multiply-add as two operations.
func BenchmarkConvOps(b *testing.B) {
	type bop struct {
		name      string
		g         geomOp
		depthwise bool
		n         int
	}
	ops := []bop{
		{"mnist-conv2d", geomOp{28, 28, 1, 32, 3, 3, 1, 1, 1, 1, 1, [4]int{}}, false, 8},
		{"mnist-conv2d_1", geomOp{26, 26, 32, 64, 3, 3, 1, 1, 1, 1, 1, [4]int{}}, false, 8},
		{"mnist-conv2d_2", geomOp{12, 12, 64, 64, 3, 3, 1, 1, 1, 1, 1, [4]int{}}, false, 8},
		{"r50-3x3-56x64", geomOp{56, 56, 64, 64, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, false, 1},
		{"r50-3x3-28x128", geomOp{28, 28, 128, 128, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, false, 1},
		{"r50-3x3-14x256", geomOp{14, 14, 256, 256, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, false, 1},
		{"r50-3x3-7x512", geomOp{7, 7, 512, 512, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, false, 1},
		{"r50-1x1s2-28x256x512", geomOp{56, 56, 256, 512, 1, 1, 2, 2, 1, 1, 1, [4]int{}}, false, 1},
		{"r50-1x1-56x64x256", geomOp{56, 56, 64, 256, 1, 1, 1, 1, 1, 1, 1, [4]int{}}, false, 1},
		{"r50-1x1-14x1024x256", geomOp{14, 14, 1024, 256, 1, 1, 1, 1, 1, 1, 1, [4]int{}}, false, 1},
		{"mv2-1x1-112x16x96", geomOp{112, 112, 16, 96, 1, 1, 1, 1, 1, 1, 1, [4]int{}}, false, 1},
		{"mv2-1x1-56x24x144", geomOp{56, 56, 24, 144, 1, 1, 1, 1, 1, 1, 1, [4]int{}}, false, 1},
		{"mv2-1x1-56x144x24", geomOp{56, 56, 144, 24, 1, 1, 1, 1, 1, 1, 1, [4]int{}}, false, 1},
		{"r50-7x7-224x3x64", geomOp{224, 224, 3, 64, 7, 7, 2, 2, 1, 1, 1, [4]int{3, 3, 3, 3}}, false, 1},
		{"mv2-stem-224x3x32", geomOp{224, 224, 3, 32, 3, 3, 2, 2, 1, 1, 1, [4]int{0, 1, 0, 1}}, false, 1},
		{"mv2-dw-112x32", geomOp{112, 112, 32, 32, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, true, 1},
		{"mv2-dw-112x96-s2", geomOp{112, 112, 96, 96, 3, 3, 2, 2, 1, 1, 1, [4]int{0, 1, 0, 1}}, true, 1},
		{"mv2-dw-56x144", geomOp{56, 56, 144, 144, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, true, 1},
		{"mv2-dw-14x576", geomOp{14, 14, 576, 576, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, true, 1},
		{"mv2-dw-7x960", geomOp{7, 7, 960, 960, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, true, 1},
	}
	// Each convolution runs with the path's own choice, then on im2col
	// tiles and on the direct path (where the shape qualifies), a
	// depthwise one without the pair-row kernel, for a side-by-side
	// comparison.
	type mode struct {
		name  string
		waste int
	}
	for _, o := range ops {
		modes := []mode{{"auto", directMaxWaste}}
		if !o.depthwise {
			modes = append(modes, mode{"im2col", -1000}, mode{"direct", 1000})
		} else {
			modes = append(modes, mode{"rows", directMaxWaste})
		}
		for _, md := range modes {
			b.Run(o.name+"/"+md.name, func(b *testing.B) {
				defer func(w int, p bool) { directMaxWaste, dwPairRows = w, p }(directMaxWaste, dwPairRows)
				directMaxWaste, dwPairRows = md.waste, md.name != "rows"
				rng := rand.New(rand.NewPCG(1, 2))
				op, tin, tout := o.g.build(rng, o.depthwise, "relu")
				for i := range op.WeightScales {
					op.WeightScales[i] = 0.002 // a real model's small multipliers: the fast output stage
				}
				tout.Scale = 0.5
				m := &Model{Name: "b", Tensors: []Tensor{tin, tout}, Inputs: []int{0}, Outputs: []int{1}}
				op.Inputs, op.Output = []int{0}, 1
				m.Ops = []Op{op}
				it, err := NewInterpreter(m)
				if err != nil {
					b.Fatal(err)
				}
				it.SetThreads(1)
				x := randCodes(rng, o.n*o.g.h*o.g.w*o.g.c)
				if err := it.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{o.n}, tin.Shape...), Data: x}); err != nil {
					b.Fatal(err)
				}
				if err := it.Invoke(); err != nil {
					b.Fatal(err)
				}
				macs := o.n * tout.Shape.Size() * op.WeightShape[0] * op.WeightShape[1]
				if !o.depthwise {
					macs *= op.WeightShape[2]
				}
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ResetTimer()
				c0 := threadCPU()
				for i := 0; i < b.N; i++ {
					if err := it.Invoke(); err != nil {
						b.Fatal(err)
					}
				}
				cpu := threadCPU() - c0
				b.ReportMetric(float64(2*macs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
				if cpu > 0 {
					b.ReportMetric(float64(2*macs)*float64(b.N)/cpu/1e9, "cpuGOPS")
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*o.n), "us/img")
			})
		}
	}
}
