package lite

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/tensor"
)

// TestFusedAddMatchesOps runs residual blocks whose Add fuses into the
// convolution before it, Add(conv, r) and Add(r, conv), on convolutions
// that take the im2col tiles, the direct path and the few-tile panel
// split, with and without a fused ReLU on the Add, on every int8 path,
// batches of 1, 3 and 16 (split across threads) and 1 and 2 threads:
// the codes are those of the ops run one by one (KeepTensors fuses
// nothing), the Add was fused, and a second reader of the convolution's
// output, or a residual computed after it, prevents the fusion.
func TestFusedAddMatchesOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	ran := map[qkernels.Path]bool{}
	type blk struct {
		h, w, c, k int // input size, channels, kernel
		convFirst  bool
		act        string
	}
	blocks := []blk{{9, 7, 8, 3, true, "relu"}, {6, 6, 16, 1, false, ""}, {3, 2, 24, 3, false, "relu"}, {12, 11, 3, 3, true, ""}}
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for bi, b := range blocks {
			m := residualModel(rng, b.h, b.w, b.c, b.k, b.convFirst, b.act)
			f := planAddFusion(m)
			if f.into[3] != 2 || f.add[2] != 3 {
				t.Fatalf("block %d: fusion %+v, want the Add (op 3) in the convolution (op 2)", bi, f)
			}
			for _, threads := range []int{1, 2} {
				for _, n := range []int{1, 3, 16} {
					what := fmt.Sprintf("%v block %d, %d threads, batch %d", p, bi, threads, n)
					x := tensor.New(append(tensor.Shape{n}, m.Tensors[0].Shape...)...)
					for i := range x.Data {
						x.Data[i] = rng.Float32()*4 - 2
					}
					var outs [2][]float32
					for v, keep := range []bool{false, true} {
						it, err := NewInterpreter(m)
						if err != nil {
							t.Fatal(err)
						}
						it.SetThreads(threads)
						if keep {
							it.KeepTensors()
						}
						if err := it.SetInput(0, x); err != nil {
							t.Fatal(err)
						}
						if err := it.Invoke(); err != nil {
							t.Fatal(err)
						}
						outs[v] = append([]float32(nil), it.Output(0).Data...)
						if a := testing.AllocsPerRun(3, func() { _ = it.Invoke() }); a != 0 {
							t.Fatalf("%s (keep %v): %v allocations per Invoke", what, keep, a)
						}
						if !keep && it.TensorInt8(m.Ops[2].Output, nil) != nil {
							t.Fatalf("%s: the fused convolution's own output is readable", what)
						}
					}
					for i := range outs[0] {
						if outs[0][i] != outs[1][i] {
							t.Fatalf("%s: output %d = %v fused, %v op by op", what, i, outs[0][i], outs[1][i])
						}
					}
				}
			}
		}
		ran[p] = true
		restore()
	}
	checkCPUPathsRan(t, "fused add", ran)

	// A second reader of the convolution's output, or a residual that
	// comes after the convolution, keeps the ops apart.
	m := residualModel(rng, 5, 5, 4, 3, true, "")
	m.Ops = append(m.Ops, Op{Type: OpReshape, Name: "peek", Inputs: []int{3}, Output: len(m.Tensors)})
	m.Tensors = append(m.Tensors, i8t("peek", 0.08, 5, 5*5*4))
	m.Outputs = append(m.Outputs, len(m.Tensors)-1)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if f := planAddFusion(m); f.into[3] >= 0 {
		t.Error("an Add fused into a convolution whose output another op reads")
	}
	// Both convolutions read the input, the residual one runs second:
	// the Add may fuse into it (its other input is ready), not into the
	// first.
	m = residualModel(rng, 5, 5, 4, 3, true, "")
	m.Ops[1], m.Ops[2] = m.Ops[2], m.Ops[1]
	m.Ops[1].Inputs = []int{1}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if f := planAddFusion(m); f.add[1] >= 0 || f.add[2] != 3 {
		t.Errorf("fusion %+v: want the Add in op 2 only (op 1's residual comes after it)", f)
	}
}

// residualModel returns Quantize -> r = conv0(x) (3x3 'same', ReLU) ->
// t = conv(r) (k x k 'same') -> Add(t, r) or Add(r, t) -> Dequantize.
func residualModel(rng *rand.Rand, h, w, c, k int, convFirst bool, act string) *Model {
	ws := func(n int) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(rng.IntN(255) - 127)
		}
		return v
	}
	pad := (k - 1) / 2
	conv0 := Op{Type: OpConv2D, Name: "conv0", Inputs: []int{1}, Output: 2, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
		Pad: [4]int{1, 1, 1, 1}, Activation: "relu", WeightShape: []int{3, 3, c, c}, WeightBits: 8,
		WeightScales: []float32{0.004}, Weights: ws(9 * c * c)}
	conv := Op{Type: OpConv2D, Name: "conv", Inputs: []int{2}, Output: 3, Kernel: [2]int{k, k}, Strides: [2]int{1, 1},
		Pad: [4]int{pad, pad, pad, pad}, WeightShape: []int{k, k, c, c}, WeightBits: 8,
		WeightScales: []float32{0.003}, Weights: ws(k * k * c * c)}
	add := Op{Type: OpAdd, Name: "add", Inputs: []int{3, 2}, Output: 4, Activation: act}
	if !convFirst {
		add.Inputs = []int{2, 3}
	}
	return &Model{Name: "residual",
		Tensors: []Tensor{{Name: "x", Shape: tensor.Shape{h, w, c}, DType: Float32}, i8t("q", 0.02, 3, h, w, c),
			i8t("r", 0.05, -128, h, w, c), i8t("t", 0.08, 5, h, w, c), i8t("add", 0.1, -20, h, w, c),
			{Name: "y", Shape: tensor.Shape{h, w, c}, DType: Float32}},
		Ops: []Op{{Type: OpQuantize, Name: "q", Inputs: []int{0}, Output: 1}, conv0, conv, add,
			{Type: OpDequantize, Name: "dq", Inputs: []int{4}, Output: 5}},
		Inputs: []int{0}, Outputs: []int{5}}
}
