package lite

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// padModel returns a full-integer model x -> Pad(pad) -> conv (the op of
// g, its own padding g.pad) -> y, and, when twice, a second reader of the
// Pad's output (a max pool) as a second model output.
func padModel(rng *rand.Rand, g geomOp, pad [4]int, depthwise, twice bool) *Model {
	ph, pw := g.h+pad[0]+pad[1], g.w+pad[2]+pad[3]
	inner := g
	inner.h, inner.w = ph, pw
	op, tin, tout := inner.build(rng, depthwise, "relu")
	x := tin
	x.Shape = tensor.Shape{g.h, g.w, g.c}
	padded := tin
	padded.Name = "padded"
	m := &Model{Name: "pads", Tensors: []Tensor{x, padded, tout}, Inputs: []int{0}, Outputs: []int{2}}
	m.Ops = []Op{{Type: OpPad, Name: "pad", Inputs: []int{0}, Output: 1, Pad: pad}}
	op.Name, op.Inputs, op.Output = "conv", []int{1}, 2
	m.Ops = append(m.Ops, op)
	if twice {
		pool := padded
		pool.Name = "pool"
		pool.Shape = tensor.Shape{ph, pw, g.c}
		m.Tensors = append(m.Tensors, pool)
		m.Ops = append(m.Ops, Op{Type: OpMaxPool, Name: "pool", Inputs: []int{1}, Output: 3, Kernel: [2]int{1, 1}, Strides: [2]int{1, 1}})
		m.Outputs = append(m.Outputs, 3)
	}
	return m
}

// runCodes runs a full-integer model on the int8 batch x (n images) and
// returns the codes of every output.
func runCodes(t *testing.T, m *Model, n int, x []int8) [][]int8 {
	t.Helper()
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{n}, m.Tensors[m.Inputs[0]].Shape...), Data: x}); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	var out [][]int8
	for i := range m.Outputs {
		out = append(out, append([]int8(nil), it.OutputInt8(i).Data...))
	}
	return out
}

// TestFoldPads folds Pads into the convolutions that read them (Keras's
// MobileNet V2 pads (0,1)x(0,1) before its stride-2 depthwise
// convolutions; other pads and convolutions with padding of their own
// too) and checks the folded model computes the same codes; it checks that
// a Pad with two readers, one whose padding would reach the kernel's
// extent, and one that changes the scale are left alone.
func TestFoldPads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name      string
		g         geomOp
		pad       [4]int
		depthwise bool
		twice     bool
		fold      bool
	}{
		{"mobilenet-v2 depthwise s2", geomOp{h: 12, w: 10, c: 19, oc: 19, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1}, [4]int{0, 1, 0, 1}, true, false, true},
		{"conv s2 with own padding", geomOp{h: 9, w: 11, c: 5, oc: 13, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, groups: 1, pad: [4]int{1, 0, 0, 1}}, [4]int{1, 1, 1, 0}, false, false, true},
		{"dilated depthwise", geomOp{h: 9, w: 9, c: 7, oc: 14, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2}, [4]int{2, 3, 4, 1}, true, false, true},
		{"two readers", geomOp{h: 8, w: 8, c: 4, oc: 4, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1}, [4]int{0, 1, 0, 1}, true, true, false},
		{"padding beyond the kernel", geomOp{h: 8, w: 8, c: 3, oc: 6, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, groups: 1, pad: [4]int{1, 1, 1, 1}}, [4]int{2, 0, 0, 0}, false, false, false},
	}
	for _, c := range cases {
		m := padModel(rng, c.g, c.pad, c.depthwise, c.twice)
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := 3
		x := randCodes(rng, n*m.Tensors[0].Shape.Size())
		want := runCodes(t, m, n, x)
		nTensors := len(m.Tensors)
		folded := m.FoldPads()
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: the folded model does not validate: %v", c.name, err)
		}
		if (folded == 1) != c.fold {
			t.Fatalf("%s: folded %d Pads, want fold %v", c.name, folded, c.fold)
		}
		if c.fold && (len(m.Ops) != 1 || len(m.Tensors) != nTensors-1 || m.Ops[0].Inputs[0] != m.Inputs[0]) {
			t.Fatalf("%s: after folding %d ops, %d tensors (from %d), conv reads %d", c.name, len(m.Ops), len(m.Tensors), nTensors, m.Ops[0].Inputs[0])
		}
		got := runCodes(t, m, n, x)
		for i := range want {
			eq(t, c.name, got[i], want[i])
		}
	}

	// A Pad that changes the zero point is not a plain zero padding of its
	// input's values: left alone.
	m := padModel(rng, geomOp{h: 8, w: 8, c: 4, oc: 4, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1}, [4]int{0, 1, 0, 1}, true, false)
	m.Tensors[1].ZeroPoint++
	if m.FoldPads() != 0 {
		t.Error("a Pad that changes the zero point was folded")
	}
}

// TestFoldPadsMaxPool folds a Pad between a convolution with a fused ReLU
// and a 3x3 stride-2 max pooling (Keras's ResNet stem) into the pooling's
// own padding, with the same codes; without the ReLU, whose output may lie
// below the zero point the Pad fills with, the Pad stays.
func TestFoldPadsMaxPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, act := range []string{"relu", "relu6", ""} {
		g := geomOp{h: 11, w: 10, c: 3, oc: 17, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, groups: 1, pad: [4]int{1, 1, 1, 1}}
		conv, tin, tout := g.build(rng, false, act)
		conv.Name, conv.Inputs, conv.Output = "conv", []int{0}, 1
		padded := tout
		padded.Name, padded.Shape = "padded", tensor.Shape{g.h + 2, g.w + 2, g.oc}
		pooled := tout
		pooled.Name, pooled.Shape = "pool", tensor.Shape{(g.h+2-3)/2 + 1, (g.w+2-3)/2 + 1, g.oc}
		m := &Model{Name: "stem", Tensors: []Tensor{tin, tout, padded, pooled}, Inputs: []int{0}, Outputs: []int{3},
			Ops: []Op{conv, {Type: OpPad, Name: "pad", Inputs: []int{1}, Output: 2, Pad: [4]int{1, 1, 1, 1}},
				{Type: OpMaxPool, Name: "pool", Inputs: []int{2}, Output: 3, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}}}}
		if err := m.Validate(); err != nil {
			t.Fatalf("%q: %v", act, err)
		}
		n := 2
		x := randCodes(rng, n*m.Tensors[0].Shape.Size())
		want := runCodes(t, m, n, x)
		folded := m.FoldPads()
		if err := m.Validate(); err != nil {
			t.Fatalf("%q: the folded model does not validate: %v", act, err)
		}
		if fold := act != ""; (folded == 1) != fold {
			t.Fatalf("activation %q: folded %d Pads, want fold %v", act, folded, fold)
		}
		eq(t, "max pool after "+act, runCodes(t, m, n, x)[0], want[0])
	}
}
