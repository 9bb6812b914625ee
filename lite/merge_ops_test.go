package lite

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refAdd is the float64 reference of Add: round_half_even(sum_i
// s_i*(q_i-zp_i)/s_out) + zp_out clamped. It equals the fixed-point kernel
// except within about 2^-31 of a tie, which the random data below avoids
// by checking exact rationals only through the kernel's own arithmetic.
func refAdd(ins []Tensor, out Tensor, act string, data [][]int8) []int8 {
	lo, hi := outRange(&out, act)
	y := make([]int8, len(data[0]))
	for j := range y {
		s := 0.0
		for i, t := range ins {
			s += float64(t.Scale) * float64(int32(data[i][j])-t.ZeroPoint)
		}
		v := math.RoundToEven(s/float64(out.Scale)) + float64(out.ZeroPoint)
		y[j] = int8(math.Min(math.Max(v, float64(lo)), float64(hi)))
	}
	return y
}

// TestAddInputsAndActivations runs Add of 2, 3 and 4 inputs with
// different scales, with and without a fused ReLU/ReLU6, on an odd number
// of elements, against the float64 reference (within 1 at the rare
// near-ties of the fixed-point multipliers), and the two-input vector path
// against the scalar loop of any input count, bit for bit.
func TestAddInputsAndActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1003
	for nIn := 2; nIn <= 4; nIn++ {
		for _, act := range []string{"", "relu", "relu6"} {
			var ins []Tensor
			var data [][]int8
			for i := 0; i < nIn; i++ {
				ins = append(ins, i8t("x", float32(0.01+0.05*r.Float64()), int32(r.IntN(40)-20), n))
				d := make([]int8, n)
				for j := range d {
					d[j] = int8(r.IntN(256) - 128)
				}
				data = append(data, d)
			}
			out := i8t("y", 0.04, -5, n)
			got := runOp(t, ins, out, Op{Type: OpAdd, Activation: act}, data...)
			want := refAdd(ins, out, act, data)
			for j := range got {
				if d := int(got[j]) - int(want[j]); d < -1 || d > 1 {
					t.Fatalf("%d inputs, %q: element %d = %d, reference %d", nIn, act, j, got[j], want[j])
				}
			}
			if nIn == 2 {
				// The vector path against the scalar loop.
				m := &Model{Tensors: append(append([]Tensor(nil), ins...), out), Inputs: []int{0, 1}, Outputs: []int{2},
					Ops: []Op{{Type: OpAdd, Inputs: []int{0, 1}, Output: 2, Activation: act}}}
				it, err := NewInterpreter(m)
				if err != nil {
					t.Fatal(err)
				}
				if err := it.Allocate(1); err != nil {
					t.Fatal(err)
				}
				k, err := newAdd(it, &m.Ops[0])
				if err != nil {
					t.Fatal(err)
				}
				copy(it.i8[0], data[0])
				copy(it.i8[1], data[1])
				scalar := make([]int8, n)
				k.addN(scalar, 0)
				for j := range got {
					if got[j] != scalar[j] {
						t.Fatalf("%q: vector path %d, scalar loop %d at element %d", act, got[j], scalar[j], j)
					}
				}
			}
		}
	}
}

// TestConcatAxes concatenates (2, 3, 2) and (2, 1, 2) along the middle
// axis and (1, 3, 2), (2, 3, 2) along the first, one input requantized.
func TestConcatAxes(t *testing.T) {
	a := []int8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // (2, 3, 2)
	b := []int8{20, 21, 22, 23}                        // (2, 1, 2), scale 2x: codes double
	got := runOp(t, []Tensor{i8t("a", 0.5, 0, 2, 3, 2), i8t("b", 1, 0, 2, 1, 2)}, i8t("y", 0.5, 0, 2, 4, 2),
		Op{Type: OpConcatenation, AxisFromEnd: 1}, a, b)
	eq(t, "axis 1", got, []int8{1, 2, 3, 4, 5, 6, 40, 42, 7, 8, 9, 10, 11, 12, 44, 46})
	c := []int8{-1, -2, -3, -4, -5, -6} // (1, 3, 2)
	got = runOp(t, []Tensor{i8t("c", 0.5, 0, 1, 3, 2), i8t("a", 0.5, 0, 2, 3, 2)}, i8t("y", 0.5, 0, 3, 3, 2),
		Op{Type: OpConcatenation, AxisFromEnd: 2}, c, a)
	eq(t, "axis 0", got, append(append([]int8(nil), c...), a...))
	got = runOp(t, []Tensor{i8t("c", 0.5, 0, 1, 3, 2), i8t("a", 0.5, 0, 2, 3, 2)}, i8t("y", 0.5, 0, 3, 3, 2),
		Op{Type: OpConcatenation, AxisFromEnd: 2, Activation: "relu"}, c, a)
	eq(t, "axis 0, relu", got, append([]int8{0, 0, 0, 0, 0, 0}, a...))
}
