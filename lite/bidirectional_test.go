package lite

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// runBidiConcat runs a one-op BidirectionalConcat model on a batch of n:
// forward and backward codes (N, T, U), and with x (N, T, F) Masking.
func runBidiConcat(t *testing.T, n, steps, u, f int, fw, bw, x []int8, zx int32) []int8 {
	t.Helper()
	ins := []Tensor{i8t("fwd", 0.02, -3, steps, u), i8t("bwd", 0.02, -3, steps, u)}
	data := [][]int8{fw, bw}
	if x != nil {
		ins = append(ins, i8t("x", 0.1, zx, steps, f))
		data = append(data, x)
	}
	m := &Model{Name: "t", Tensors: append(append([]Tensor(nil), ins...), i8t("y", 0.02, -3, steps, 2*u))}
	op := Op{Type: OpBidirectionalConcat, Output: len(ins)}
	for i := range ins {
		m.Inputs = append(m.Inputs, i)
		op.Inputs = append(op.Inputs, i)
	}
	m.Ops, m.Outputs = []Op{op}, []int{op.Output}
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		if err := it.SetInputInt8(i, &tensor.Int8{Shape: append(tensor.Shape{n}, ins[i].Shape...), Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

// TestBidiConcatReference compares BidirectionalConcat on random codes
// (odd shapes, with and without the mask input, some steps all at x's
// zero point) with the definition written out: row s is forward row s
// then backward row T-1-s, or the output's zero point at a padding step.
func TestBidiConcatReference(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 95))
	for _, c := range []struct{ n, steps, u, f int }{{1, 1, 1, 1}, {3, 5, 7, 3}, {9, 4, 2, 5}} {
		for _, masked := range []bool{false, true} {
			n, steps, u, f := c.n, c.steps, c.u, c.f
			rnd := func(k int) []int8 {
				v := make([]int8, k)
				for i := range v {
					v[i] = int8(r.IntN(256) - 128)
				}
				return v
			}
			fw, bw := rnd(n*steps*u), rnd(n*steps*u)
			var x []int8
			const zx = 7
			if masked {
				x = rnd(n * steps * f)
				for row := 0; row < n*steps; row++ {
					if r.IntN(3) == 0 {
						for j := 0; j < f; j++ {
							x[row*f+j] = zx
						}
					}
				}
			}
			got := runBidiConcat(t, n, steps, u, f, fw, bw, x, zx)
			for i := 0; i < n; i++ {
				for s := 0; s < steps; s++ {
					pad := masked
					for j := 0; masked && j < f; j++ {
						pad = pad && x[(i*steps+s)*f+j] == zx
					}
					for j := 0; j < 2*u; j++ {
						want := int8(-3)
						switch {
						case pad:
						case j < u:
							want = fw[(i*steps+s)*u+j]
						default:
							want = bw[(i*steps+steps-1-s)*u+j-u]
						}
						if g := got[(i*steps+s)*2*u+j]; g != want {
							t.Fatalf("%+v masked %v: sample %d step %d value %d = %d, want %d", c, masked, i, s, j, g, want)
						}
					}
				}
			}
		}
	}
}

// TestBidiConcatValidate checks the one-line errors of a bad
// BidirectionalConcat: one input, forward and backward shapes that
// differ, an output of the wrong width, a mask input of other steps, a
// backward tensor of another scale, weights and a fused activation.
func TestBidiConcatValidate(t *testing.T) {
	base := func() *Model {
		return &Model{Name: "t", Tensors: []Tensor{i8t("f", 0.02, 1, 4, 3), i8t("b", 0.02, 1, 4, 3), i8t("x", 0.1, 0, 4, 2), i8t("y", 0.02, 1, 4, 6)},
			Inputs: []int{0, 1, 2}, Outputs: []int{3}, Ops: []Op{{Type: OpBidirectionalConcat, Inputs: []int{0, 1, 2}, Output: 3}}}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("a valid op: %v", err)
	}
	for name, edit := range map[string]func(m *Model){
		"one input":        func(m *Model) { m.Ops[0].Inputs = []int{0} },
		"shapes differ":    func(m *Model) { m.Tensors[1].Shape = tensor.Shape{4, 2} },
		"output width":     func(m *Model) { m.Tensors[3].Shape = tensor.Shape{4, 5} },
		"mask steps":       func(m *Model) { m.Tensors[2].Shape = tensor.Shape{3, 2} },
		"backward scale":   func(m *Model) { m.Tensors[1].Scale = 0.03 },
		"weights":          func(m *Model) { m.Ops[0].Bias = []int32{1} },
		"fused relu":       func(m *Model) { m.Ops[0].Activation = "relu" },
		"rank-1 sequences": func(m *Model) { m.Tensors[0].Shape, m.Tensors[1].Shape = tensor.Shape{12}, tensor.Shape{12} },
	} {
		m := base()
		edit(m)
		err := m.Validate()
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line error", name, err)
		}
	}
}
