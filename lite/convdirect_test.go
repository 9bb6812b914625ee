package lite

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/tensor"
)

// TestConvDirectEveryPath runs Conv2D ops that qualify for the direct
// (implicit-GEMM) path, of odd shapes, strides and paddings, on every
// int8 path against refConvGeneral with guard bytes after the output,
// first with every qualifying shape sent through the path, then with the
// path's own choice; a clone sharing the weights must agree. It fails if
// the VNNI path, where the CPU has it, did not run a direct convolution
// in both tilings (along output rows, and on consecutive positions of the
// padded image).
func TestConvDirectEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	ops := []geomOp{
		{7, 9, 4, 5, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}},     // 'same', 5 filters
		{26, 26, 32, 64, 3, 3, 1, 1, 1, 1, 1, [4]int{}},           // mnist-cnn's second convolution
		{9, 8, 8, 33, 3, 3, 2, 2, 1, 1, 1, [4]int{1, 1, 1, 1}},    // stride 2, 33 filters
		{6, 7, 12, 17, 5, 3, 1, 1, 1, 1, 1, [4]int{2, 1, 0, 2}},   // 5x3, asymmetric padding
		{10, 11, 4, 40, 1, 1, 2, 2, 1, 1, 1, [4]int{}},            // 1x1 stride 2
		{5, 6, 16, 9, 2, 2, 1, 2, 1, 1, 1, [4]int{0, 1, 1, 0}},    // stride (1, 2)
		{14, 14, 36, 70, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, // wide: 3 panels, the last 6 columns
		{56, 56, 4, 16, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}},  // ResNet's first stage: positions
		{12, 13, 8, 24, 3, 3, 1, 1, 1, 1, 1, [4]int{0, 0, 1, 0}},  // one tile per output row
	}
	ran := map[qkernels.Path]bool{}
	tilings := map[bool]bool{}
	for _, force := range []bool{true, false} {
		if force {
			directMaxWaste = 1000
		}
		for _, p := range qkernels.SupportedPaths() {
			restore := qkernels.SetPath(p)
			for i, g := range ops {
				op, tin, tout := g.build(rng, false, []string{"", "relu", "relu6"}[i%3])
				for j := range op.WeightScales {
					op.WeightScales[j] = 0.0005 + 0.002*rng.Float32() // a real model's multipliers (the fused stage)
				}
				tout.Scale = 0.5 + rng.Float32()
				n := 3
				x := randCodes(rng, n*g.h*g.w*g.c)
				what := fmt.Sprintf("%v direct %d (forced %v)", p, i, force)
				got, it := runGuarded(t, what, op, tin, tout, n, x)
				eq(t, what, got, refConvGeneral(x, n, &op, &tin, &tout))
				k := it.kernels[0].(*convKernel)
				if k.direct {
					if p != qkernels.VNNI {
						t.Fatalf("%s: the direct path on %v", what, p)
					}
					ran[p] = true
					tilings[k.virtual] = true
				} else if force && p == qkernels.VNNI {
					t.Fatalf("%s: a qualifying convolution did not take the direct path", what)
				}
				c := it.Clone()
				if err := c.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{n}, tin.Shape...), Data: x}); err != nil {
					t.Fatal(err)
				}
				if err := c.Invoke(); err != nil {
					t.Fatal(err)
				}
				eq(t, what+" clone", c.OutputInt8(0).Data, got)
			}
			restore()
		}
		directMaxWaste = 4
	}
	if hasVNNI() && (!ran[qkernels.VNNI] || !tilings[true] || !tilings[false]) {
		t.Errorf("VNNI: direct path ran %v, tilings (positions: %v, rows: %v)", ran[qkernels.VNNI], tilings[true], tilings[false])
	}
}

// hasVNNI reports whether the CPU (and build) has the VNNI path.
func hasVNNI() bool {
	for _, p := range qkernels.SupportedPaths() {
		if p == qkernels.VNNI {
			return true
		}
	}
	return false
}
