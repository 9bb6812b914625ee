package lite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// checkArena fails if two tensors that share an arena buffer are live at
// once (one written while the other may still be read), if a model input
// or output is in the arena, or if a buffer is smaller than a tensor in it.
func checkArena(t *testing.T, what string, m *Model, a *arena, f *addFusion) {
	t.Helper()
	if f == nil {
		f = noFusion(len(m.Ops))
	}
	def, last := make([]int, len(m.Tensors)), make([]int, len(m.Tensors))
	for i := range def {
		def[i], last[i] = -1, -1
	}
	// The ops as they run: a convolution running an Add reads the Add's
	// inputs and writes its output; the Add does nothing.
	for k := range m.Ops {
		if f.into[k] >= 0 {
			continue
		}
		out, ins := m.Ops[k].Output, m.Ops[k].Inputs
		if j := f.add[k]; j >= 0 {
			out, ins = m.Ops[j].Output, append(append([]int(nil), ins...), m.Ops[j].Inputs...)
			if !a.unused[m.Ops[k].Output] || a.slot[m.Ops[k].Output] >= 0 {
				t.Fatalf("%s: the fused convolution's own output %d has a buffer", what, m.Ops[k].Output)
			}
		}
		def[out] = k
		for _, i := range ins {
			last[i] = k
		}
	}
	for _, i := range append(append([]int(nil), m.Inputs...), m.Outputs...) {
		if a.slot[i] >= 0 {
			t.Fatalf("%s: model input or output %d is in the arena", what, i)
		}
	}
	for _, op := range m.Ops {
		if op.Type == OpDequantize && slices.Contains(m.Outputs, op.Output) && a.slot[op.Inputs[0]] >= 0 {
			t.Fatalf("%s: the codes of dequantized output %d are in the arena", what, op.Output)
		}
	}
	for i := range m.Tensors {
		s := a.slot[i]
		if s < 0 {
			continue
		}
		if a.size[s] < m.Tensors[i].Shape.Size() || a.f32[s] != (m.Tensors[i].DType == Float32) {
			t.Fatalf("%s: tensor %d does not fit buffer %d", what, i, s)
		}
		for j := i + 1; j < len(m.Tensors); j++ {
			if a.slot[j] != s {
				continue
			}
			// Live from its writing op to its last reader (its writer if
			// never read).
			li, lj := max(last[i], def[i]), max(last[j], def[j])
			if def[i] <= lj && def[j] <= li {
				t.Fatalf("%s: tensors %d [%d, %d] and %d [%d, %d] share buffer %d", what, i, def[i], li, j, def[j], lj, s)
			}
		}
	}
}

// TestArenaPlan checks the plan of a residual chain by hand (a tensor live
// across two ops keeps its buffer; a dead one's is reused) and the
// liveness property on random layered graphs.
func TestArenaPlan(t *testing.T) {
	// x -> a -> b; add(a, b) -> c -> d -> e (output): c cannot take a's
	// or b's buffer (an op's output never shares with its inputs), d can.
	m := &Model{Name: "chain", Inputs: []int{0}, Outputs: []int{5}}
	for i := 0; i < 6; i++ {
		m.Tensors = append(m.Tensors, Tensor{Name: fmt.Sprint(i), Shape: tensor.Shape{10 + i}, DType: Int8})
	}
	m.Ops = []Op{
		{Type: OpReshape, Inputs: []int{0}, Output: 1},
		{Type: OpReshape, Inputs: []int{1}, Output: 2},
		{Type: OpAdd, Inputs: []int{1, 2}, Output: 3},
		{Type: OpReshape, Inputs: []int{3}, Output: 4},
		{Type: OpReshape, Inputs: []int{4}, Output: 5},
	}
	a := planArena(m, nil)
	checkArena(t, "chain", m, a, nil)
	if len(a.size) != 3 || a.slot[4] != a.slot[1] && a.slot[4] != a.slot[2] {
		t.Errorf("%d buffers (slots %v), want 3 with tensor 4 in tensor 1's or 2's", len(a.size), a.slot)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 200; trial++ {
		n := 2 + rng.IntN(20)
		m := &Model{Name: "random", Inputs: []int{0}}
		m.Tensors = append(m.Tensors, Tensor{Shape: tensor.Shape{1 + rng.IntN(50)}, DType: Int8})
		for k := 1; k <= n; k++ {
			dt := Int8
			if rng.IntN(5) == 0 {
				dt = Float32
			}
			m.Tensors = append(m.Tensors, Tensor{Shape: tensor.Shape{1 + rng.IntN(50)}, DType: dt})
			ins := []int{rng.IntN(k)}
			if rng.IntN(2) == 0 {
				ins = append(ins, rng.IntN(k))
			}
			m.Ops = append(m.Ops, Op{Type: OpAdd, Inputs: ins, Output: k})
		}
		m.Outputs = []int{n}
		if rng.IntN(2) == 0 {
			m.Outputs = append(m.Outputs, rng.IntN(n))
		}
		checkArena(t, fmt.Sprint("random ", trial), m, planArena(m, nil), nil)
	}
}

// TestArenaMatchesOwnBuffers runs the built-in test networks with the
// activation arena and with a buffer per tensor (KeepTensors), at batch 1,
// a batch each op splits, and a batch split across threads: the outputs
// are the same bit for bit, and the arena plans less memory.
func TestArenaMatchesOwnBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, name := range []string{"tiny", "residual"} {
		m := arenaTestModel(name, rng)
		f := planAddFusion(m)
		checkArena(t, name, m, planArena(m, f), f)
		if keep, shared := m.resources(true).Bytes(1), m.InferenceBytes(1); shared >= keep {
			t.Errorf("%s: the arena plans %d bytes per sample, a buffer per tensor %d", name, shared, keep)
		}
		for _, threads := range []int{1, 2} {
			for _, n := range []int{1, 3, 16} {
				what := fmt.Sprintf("%s %d threads batch %d", name, threads, n)
				x := tensor.New(append(tensor.Shape{n}, m.Tensors[m.Inputs[0]].Shape...)...)
				for i := range x.Data {
					x.Data[i] = rng.Float32()*4 - 2
				}
				var outs, codes [2][]float32
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
					for r := 0; r < 2; r++ { // a second run over the reused buffers
						if err := it.Invoke(); err != nil {
							t.Fatal(err)
						}
					}
					outs[v] = append([]float32(nil), it.Output(0).Data...)
					for _, q := range it.OutputInt8(0).Data {
						codes[v] = append(codes[v], float32(q))
					}
				}
				for i := range outs[1] {
					if outs[0][i] != outs[1][i] {
						t.Fatalf("%s: output %d = %v with the arena, %v without", what, i, outs[0][i], outs[1][i])
					}
				}
				if !slices.Equal(codes[0], codes[1]) || len(codes[0]) != len(outs[0]) {
					t.Fatalf("%s: OutputInt8 differs with the arena", what)
				}
			}
		}
	}
}

// arenaTestModel returns a float-in, float-out model for the arena tests:
// "tiny" is tinyModel between Quantize and Dequantize; "residual" a
// 3x3 convolution whose output a 1x1 convolution and an Add with the
// convolution's own output read (a tensor live across ops), then a
// depthwise convolution, global average pooling and a fully-connected
// layer.
func arenaTestModel(name string, rng *rand.Rand) *Model {
	ws := func(n int) []int8 {
		w := make([]int8, n)
		for i := range w {
			w[i] = int8(rng.IntN(255) - 127)
		}
		return w
	}
	f32 := func(name string, shape ...int) Tensor { return Tensor{Name: name, Shape: shape, DType: Float32} }
	if name == "tiny" {
		m := tinyModel(8)
		n := len(m.Tensors)
		m.Tensors = append(m.Tensors, f32("x", 4, 4, 2), f32("y", 2))
		m.Ops = append([]Op{{Type: OpQuantize, Name: "q", Inputs: []int{n}, Output: 0}}, m.Ops...)
		m.Ops = append(m.Ops, Op{Type: OpDequantize, Name: "dq", Inputs: []int{3}, Output: n + 1})
		m.Inputs, m.Outputs = []int{n}, []int{n + 1}
		return m
	}
	const h, w, c = 9, 7, 16
	conv := Op{Type: OpConv2D, Name: "conv", Inputs: []int{1}, Output: 2, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
		Pad: [4]int{1, 1, 1, 1}, Activation: "relu", WeightShape: []int{3, 3, 3, c}, WeightBits: 8,
		WeightScales: []float32{0.01}, Weights: ws(27 * c)}
	pw := Op{Type: OpConv2D, Name: "pw", Inputs: []int{2}, Output: 3, Kernel: [2]int{1, 1}, Strides: [2]int{1, 1},
		WeightShape: []int{1, 1, c, c}, WeightBits: 8, WeightScales: []float32{0.004}, Weights: ws(c * c)}
	add := Op{Type: OpAdd, Name: "add", Inputs: []int{2, 3}, Output: 4, Activation: "relu"}
	dw := Op{Type: OpDepthwiseConv2D, Name: "dw", Inputs: []int{4}, Output: 5, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2},
		Pad: [4]int{1, 1, 1, 1}, WeightShape: []int{3, 3, c}, WeightBits: 8, WeightScales: []float32{0.02}, Weights: ws(9 * c)}
	gap := Op{Type: OpGlobalAveragePool, Name: "gap", Inputs: []int{5}, Output: 6}
	fc := Op{Type: OpFullyConnected, Name: "fc", Inputs: []int{6}, Output: 7, WeightShape: []int{c, 5}, WeightBits: 8,
		WeightScales: []float32{0.01}, Weights: ws(c * 5)}
	return &Model{Name: "residual",
		Tensors: []Tensor{f32("x", h, w, 3), i8t("q", 0.02, 0, h, w, 3), i8t("conv", 0.05, -128, h, w, c),
			i8t("pw", 0.1, 3, h, w, c), i8t("add", 0.1, -128, h, w, c), i8t("dw", 0.2, -5, 5, 4, c),
			i8t("gap", 0.2, -5, c), i8t("fc", 0.1, 2, 5), f32("y", 5)},
		Ops: []Op{{Type: OpQuantize, Name: "q", Inputs: []int{0}, Output: 1}, conv, pw, add, dw, gap, fc,
			{Type: OpDequantize, Name: "dq", Inputs: []int{7}, Output: 8}},
		Inputs: []int{0}, Outputs: []int{8}}
}
