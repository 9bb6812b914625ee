package lite

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// runBatch runs a one-op full-integer model on n samples of int8 inputs
// and returns the output codes.
func runBatch(t *testing.T, ins []Tensor, out Tensor, op Op, n int, data ...[]int8) []int8 {
	t.Helper()
	m := &Model{Name: "t", Tensors: append(append([]Tensor(nil), ins...), out)}
	for i := range ins {
		m.Inputs = append(m.Inputs, i)
		op.Inputs = append(op.Inputs, i)
	}
	op.Output = len(ins)
	m.Ops = []Op{op}
	m.Outputs = []int{op.Output}
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

// TestLUTActivationsHand checks HardSwish, HardSigmoid and SiLU codes
// computed by hand (input scale 0.5, zero point 0; output scale 0.25,
// zero point -10).
func TestLUTActivationsHand(t *testing.T) {
	in, out := i8t("x", 0.5, 0, 6), i8t("y", 0.25, -10, 6)
	x := []int8{-8, -6, -3, 0, 1, 8} // reals -4, -3, -1.5, 0, 0.5, 4
	// hard_swish: 0, 0, -0.375, 0, 0.5*3.5/6 = 0.29167, 4
	//   codes /0.25: 0, 0, -1.5 -> -2 (even), 0, 1.1667 -> 1, 16; + zp
	eq(t, "hard_swish", runOp(t, []Tensor{in}, out, Op{Type: OpHardSwish}, x), []int8{-10, -10, -12, -10, -9, 6})
	// hard_sigmoid: 0, 0, 0.25, 0.5, 0.58333, 1 -> 0, 0, 1, 2, 2.333 -> 2, 4
	eq(t, "hard_sigmoid", runOp(t, []Tensor{in}, out, Op{Type: OpHardSigmoid}, x), []int8{-10, -10, -9, -8, -8, -6})
	// silu: -0.07194, -0.14228, -0.27343, 0, 0.31123, 3.92806
	//   /0.25: -0.288 -> 0, -0.569 -> -1, -1.094 -> -1, 0, 1.245 -> 1, 15.71 -> 16
	eq(t, "silu", runOp(t, []Tensor{in}, out, Op{Type: OpSiLU}, x), []int8{-10, -11, -11, -10, -9, 6})
	// A fused ReLU clamps at the zero point: hard_swish's -0.375 -> 0.
	eq(t, "hard_swish relu", runOp(t, []Tensor{in}, out, Op{Type: OpHardSwish, Activation: "relu"}, x), []int8{-10, -10, -10, -10, -9, 6})
}

// TestLUTActivationsReference compares every input code of the table ops
// with the functions written out and quantized in float64 (no value at
// these scales lies near enough a rounding boundary for float64 and the
// runtime's float32 quantization to differ), for 8- and 4-bit outputs and
// a fused ReLU6, over a batch large enough to be split across threads.
func TestLUTActivationsReference(t *testing.T) {
	fs := map[OpType]func(float64) float64{
		OpHardSwish:   func(x float64) float64 { return x * math.Min(math.Max(x+3, 0), 6) / 6 },
		OpHardSigmoid: func(x float64) float64 { return math.Min(math.Max(x+3, 0), 6) / 6 },
		OpSiLU:        func(x float64) float64 { return x / (1 + math.Exp(-x)) },
	}
	x := make([]int8, 256*16)
	for i := range x {
		x[i] = int8(i)
	}
	for typ, f := range fs {
		for _, c := range []struct {
			out Tensor
			act string
		}{
			{i8t("y", 0.0371, -37, 256), ""},
			{Tensor{Name: "y", Shape: tensor.Shape{256}, DType: Int8, Scale: 0.41, ZeroPoint: -3, Bits: 4}, ""},
			{i8t("y", 0.0293, 5, 256), "relu6"},
		} {
			in := i8t("x", 0.0517, 11, 256)
			got := runBatch(t, []Tensor{in}, c.out, Op{Type: typ, Activation: c.act}, 16, x)
			qmin, qmax := c.out.QRange()
			lo, hi := qmath.ActivationRange(qmin, qmax, c.out.Scale, c.out.ZeroPoint, c.act)
			for i, q := range x {
				v := f(float64(in.Scale) * float64(int32(q)-in.ZeroPoint))
				want := int32(math.RoundToEven(v/float64(c.out.Scale))) + c.out.ZeroPoint
				want = min(max(want, lo), hi)
				if int32(got[i]) != want {
					t.Fatalf("%s bits %d act %q: code %d -> %d, want %d", typ, c.out.Bits, c.act, q, got[i], want)
				}
			}
		}
	}
}

// TestMulHand checks Mul with power-of-two scales (exact multipliers, so
// the ties round half to even) and the squeeze-excitation broadcast.
func TestMulHand(t *testing.T) {
	// x (2,1,2) scale 0.5 zp 1; s (1,1,2) scale 0.25 zp -4; out scale 1 zp 2.
	x := []int8{3, -1, 0, 5} // reals 1, -1, -0.5, 2
	s := []int8{0, 4}        // reals 1, 2
	// products: 1*1 = 1, -1*2 = -2, -0.5*1 = -0.5 -> -0 (even), 2*2 = 4
	got := runOp(t, []Tensor{i8t("x", 0.5, 1, 2, 1, 2), i8t("s", 0.25, -4, 1, 1, 2)}, i8t("y", 1, 2, 2, 1, 2), Op{Type: OpMul}, x, s)
	eq(t, "mul broadcast", got, []int8{3, 0, 2, 6})
	// (C) broadcasts like (1,1,C); the fused ReLU clamps at the zero point.
	got = runOp(t, []Tensor{i8t("x", 0.5, 1, 2, 1, 2), i8t("s", 0.25, -4, 2)}, i8t("y", 1, 2, 2, 1, 2), Op{Type: OpMul, Activation: "relu"}, x, s)
	eq(t, "mul channels relu", got, []int8{3, 2, 2, 6})
	// Same shapes: 1.5*-0.5 = -0.75 -> -1; 2.5*1.5 = 3.75 -> 4 (scale 1, zp 0).
	got = runOp(t, []Tensor{i8t("a", 0.5, 0, 2), i8t("b", 0.5, 0, 2)}, i8t("y", 1, 0, 2), Op{Type: OpMul}, []int8{3, 5}, []int8{-1, 3})
	eq(t, "mul", got, []int8{-1, 4})
}

// TestMulReference compares Mul on random codes with a reference written
// with explicit (h, w, c) positions, for the broadcasts of
// squeeze-and-excitation, over a batch split across threads.
func TestMulReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	const n, h, w, c = 12, 3, 5, 7
	for _, sShape := range []tensor.Shape{{1, 1, c}, {c}, {h, w, c}, {h, 1, c}} {
		x, s := make([]int8, n*h*w*c), make([]int8, n*sShape.Size())
		for i := range x {
			x[i] = int8(r.IntN(256) - 128)
		}
		for i := range s {
			s[i] = int8(r.IntN(256) - 128)
		}
		tx, ts, to := i8t("x", 0.0371, -7, h, w, c), i8t("s", 0.0052, 100, sShape...), i8t("y", 0.0213, 3, h, w, c)
		got := runBatch(t, []Tensor{tx, ts}, to, Op{Type: OpMul}, n, x, s)
		m, err := qmath.NewMultiplier(float64(tx.Scale) * float64(ts.Scale) / float64(to.Scale))
		if err != nil {
			t.Fatal(err)
		}
		full := append(tensor.Shape{1, 1, 1}[:3-len(sShape)], sShape...)
		near := 0
		for b := 0; b < n; b++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					for k := 0; k < c; k++ {
						si := 0
						for d, p := range [3]int{i, j, k} {
							if full[d] != 1 {
								si = si*full[d] + p
							}
						}
						o := ((b*h+i)*w+j)*c + k
						acc := (int32(x[o]) - tx.ZeroPoint) * (int32(s[b*sShape.Size()+si]) - ts.ZeroPoint)
						want := qmath.Requantize(acc, m, to.ZeroPoint, -128, 127)
						if int32(got[o]) != want {
							t.Fatalf("s %v: out[%d,%d,%d,%d] = %d, want %d", sShape, b, i, j, k, got[o], want)
						}
						// The float64 product agrees within one step.
						f := float64(acc)*float64(tx.Scale)*float64(ts.Scale)/float64(to.Scale) + float64(to.ZeroPoint)
						f = math.Min(math.Max(math.RoundToEven(f), -128), 127)
						if d := math.Abs(f - float64(want)); d > 1 {
							t.Fatalf("s %v: code %d, float64 reference %v", sShape, want, f)
						} else if d == 0 {
							near++
						}
					}
				}
			}
		}
		if near < n*h*w*c*99/100 {
			t.Errorf("s %v: only %d of %d codes equal the float64 reference", sShape, near, n*h*w*c)
		}
	}
}

func TestGlobalMaxPoolHand(t *testing.T) {
	in := i8t("x", 0.3, 5, 2, 2, 3)
	x := []int8{
		1, -128, 7, 9, -3, 7,
		-2, 127, 0, 9, -4, -1,
		// second image
		0, 0, 0, -1, -1, -1,
		-2, -2, -2, -128, 1, -128,
	}
	got := runBatch(t, []Tensor{in}, i8t("y", 0.3, 5, 3), Op{Type: OpGlobalMaxPool}, 2, x)
	eq(t, "global max pool", got, []int8{9, 127, 7, 0, 1, 0})
	// A large batch, split across threads, against the loop written out.
	r := rand.New(rand.NewPCG(6, 6))
	const n, hw, c = 40, 9, 33
	xs := make([]int8, n*hw*c)
	for i := range xs {
		xs[i] = int8(r.IntN(256) - 128)
	}
	got = runBatch(t, []Tensor{i8t("x", 1, 0, 3, 3, c)}, i8t("y", 1, 0, c), Op{Type: OpGlobalMaxPool}, n, xs)
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			m := int8(-128)
			for p := 0; p < hw; p++ {
				m = max(m, xs[(b*hw+p)*c+k])
			}
			if got[b*c+k] != m {
				t.Fatalf("image %d channel %d: %d, want %d", b, k, got[b*c+k], m)
			}
		}
	}
}

func TestValidateNewOps(t *testing.T) {
	for name, c := range map[string]struct {
		ins  []Tensor
		out  Tensor
		op   Op
		frag string
	}{
		"mul shapes":     {[]Tensor{i8t("a", 1, 0, 2, 3), i8t("b", 1, 0, 2, 2)}, i8t("y", 1, 0, 2, 3), Op{Type: OpMul}, "broadcast"},
		"mul out shape":  {[]Tensor{i8t("a", 1, 0, 2, 3), i8t("b", 1, 0, 3)}, i8t("y", 1, 0, 3), Op{Type: OpMul}, "output shape"},
		"mul inputs":     {[]Tensor{i8t("a", 1, 0, 3), i8t("b", 1, 0, 3), i8t("c", 1, 0, 3)}, i8t("y", 1, 0, 3), Op{Type: OpMul}, "want 2"},
		"gmp scale":      {[]Tensor{i8t("a", 1, 0, 2, 2, 3)}, i8t("y", 0.5, 0, 3), Op{Type: OpGlobalMaxPool}, "quantization differs"},
		"gmp rank":       {[]Tensor{i8t("a", 1, 0, 4, 3)}, i8t("y", 1, 0, 3), Op{Type: OpGlobalMaxPool}, "(H, W, C)"},
		"lut shape":      {[]Tensor{i8t("a", 1, 0, 4)}, i8t("y", 1, 0, 5), Op{Type: OpHardSwish}, "output shape"},
		"lut activation": {[]Tensor{i8t("a", 1, 0, 4)}, i8t("y", 1, 0, 4), Op{Type: OpSiLU, Activation: "gelu"}, "fused activation"},
	} {
		m := &Model{Tensors: append(append([]Tensor(nil), c.ins...), c.out)}
		for i := range c.ins {
			m.Inputs = append(m.Inputs, i)
			c.op.Inputs = append(c.op.Inputs, i)
		}
		c.op.Output = len(c.ins)
		m.Ops, m.Outputs = []Op{c.op}, []int{c.op.Output}
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), c.frag) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.frag)
		}
	}
}
