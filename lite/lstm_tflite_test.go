package lite

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// TestTFLiteActivations checks the gemmlowp int16 sigmoid and tanh on every
// input: within a few steps of the exact function (the fixed-point
// approximation's error, which is also why neither is monotonic
// everywhere), odd (tanh) or complementary (sigmoid) symmetry away from
// the wrap at -32768. TestConformanceLSTM (format/tflite) checks them
// against TFLite's runtime bit for bit.
func TestTFLiteActivations(t *testing.T) {
	for _, ib := range []int{3, 4, 5, 6} {
		worst := 0.0
		for q := -32768; q < 32768; q++ {
			z := int16(q)
			got := tanh16TFL(z, ib)
			want := math.Tanh(math.Ldexp(float64(q), ib-15)) * 32768
			worst = max(worst, math.Abs(float64(got)-min(want, 32767)))
			if q > -32768 && tanh16TFL(-z, ib) != -got {
				t.Fatalf("tanh Q%d: tanh(-%d) = %d, want %d", ib, q, tanh16TFL(-z, ib), -got)
			}
		}
		t.Logf("tanh Q%d.%d: largest error %.1f steps", ib, 15-ib, worst)
		if worst > 16 {
			t.Errorf("tanh Q%d: largest error %.1f steps", ib, worst)
		}
	}
	worst := 0.0
	for q := -32768; q < 32768; q++ {
		z := int16(q)
		got := sigmoid16TFL(z)
		want := 32768 / (1 + math.Exp(-math.Ldexp(float64(q), -12)))
		worst = max(worst, math.Abs(float64(got)-min(want, 32767)))
		if q > -32768 && q != 0 && int(sigmoid16TFL(-z))+int(got) != 32767 {
			t.Fatalf("sigmoid(%d) + sigmoid(%d) = %d, want 32767", q, -q, int(sigmoid16TFL(-z))+int(got))
		}
	}
	t.Logf("sigmoid Q3.12: largest error %.1f steps", worst)
	if worst > 8 {
		t.Errorf("sigmoid: largest error %.1f steps", worst)
	}
}

// TestTFLiteLSTMScales checks the per-gate-matrix test and that an LSTM
// with per-channel weights keeps goqat's kernel in rounding tflite.
func TestTFLiteLSTMScales(t *testing.T) {
	u, f := 3, 2
	op := Op{Type: OpLSTM, WeightShape: tensor.Shape{f + u, 4 * u}, WeightScales: make([]float32, 8*u)}
	for b := range 8 {
		for j := range u {
			op.WeightScales[b*u+j] = float32(b+1) / 100
		}
	}
	sc, ok := TFLiteLSTMScales(&op)
	if !ok || sc[0] != 0.01 || sc[7] != 0.08 {
		t.Fatalf("per-gate scales: %v %v", sc, ok)
	}
	op.WeightScales[4] = 0.5
	if _, ok := TFLiteLSTMScales(&op); ok {
		t.Error("per-channel scales accepted")
	}
	gru := op
	gru.Type = OpGRU
	if _, ok := TFLiteLSTMScales(&gru); ok {
		t.Error("GRU accepted")
	}
}

// lstmTestModel returns an int8 model of one LSTM (T 6, F 5, U 8, last
// step) with random weights, one scale per gate matrix unless perChannel.
func lstmTestModel(seed uint64, e int, perChannel bool) *Model {
	r := rand.New(rand.NewPCG(seed, 1))
	t, f, u := 6, 5, 8
	gu := 4 * u
	op := Op{Type: OpLSTM, Name: "lstm", Inputs: []int{0}, Output: 1, WeightShape: tensor.Shape{f + u, gu}, WeightBits: 8,
		Weights: make([]int8, (f+u)*gu), WeightScales: make([]float32, 2*gu), Bias: make([]int32, gu), CellExponent: e}
	for i := range op.Weights {
		op.Weights[i] = int8(r.IntN(255) - 127)
	}
	for i := range op.Bias {
		op.Bias[i] = int32(r.IntN(2001) - 1000)
	}
	for b := range 8 {
		s := 0.005 + 0.01*r.Float32()
		for j := range u {
			if perChannel {
				s = 0.005 + 0.01*r.Float32()
			}
			op.WeightScales[b*u+j] = s
		}
	}
	return &Model{Name: "lstm", Tensors: []Tensor{
		{Name: "x", Shape: tensor.Shape{t, f}, DType: Int8, Scale: 0.02, ZeroPoint: -3, Bits: 8},
		{Name: "h", Shape: tensor.Shape{u}, DType: Int8, Scale: 0.008, ZeroPoint: 2, Bits: 8},
	}, Ops: []Op{op}, Inputs: []int{0}, Outputs: []int{1}}
}

// runLSTMModel runs m on n random samples in rounding mode.
func runLSTMModel(t *testing.T, m *Model, mode Rounding, n int) []int8 {
	t.Helper()
	mm := *m
	mm.Rounding = mode
	it, err := NewInterpreter(&mm)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	x := tensor.NewInt8(append(tensor.Shape{n}, m.Tensors[0].Shape...)...)
	for i := range x.Data {
		x.Data[i] = int8(r.IntN(256) - 128)
	}
	if err := it.SetInputInt8(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(it.OutputInt8(0).Data)
}

// TestTFLiteLSTMDispatch checks that rounding tflite runs TFLite's LSTM
// arithmetic for an LSTM of one scale per gate matrix and a cell scale up
// to 2^-9 (codes differing from goqat's somewhere, by at most a step or
// two), and goqat's kernel otherwise (per-channel weights, cell scale 1,
// masking), as export refuses those; batches give the codes of single samples.
func TestTFLiteLSTMDispatch(t *testing.T) {
	const n = 16
	for _, c := range []struct {
		e          int
		perChannel bool
		tfl        bool
		mask       bool
	}{{-11, false, true, false}, {-9, false, true, false}, {-12, true, false, false}, {0, false, false, false}, {-11, false, false, true}} {
		m := lstmTestModel(uint64(10-c.e), c.e, c.perChannel)
		m.Ops[0].Masking = c.mask
		a, b := runLSTMModel(t, m, RoundingGoqat, n), runLSTMModel(t, m, RoundingTFLite, n)
		same, worst := 0, 0
		for i := range a {
			if a[i] == b[i] {
				same++
			}
			worst = max(worst, abs(int(a[i])-int(b[i])))
		}
		t.Logf("E %d per-channel %v: %d/%d identical, max diff %d", c.e, c.perChannel, same, len(a), worst)
		if c.tfl && (same == len(a) || worst > 2) {
			t.Errorf("E %d: rounding tflite %d/%d identical to goqat's, max diff %d: want the TFLite kernel", c.e, same, len(a), worst)
		}
		if !c.tfl && same != len(a) {
			t.Errorf("E %d per-channel %v: rounding tflite differs from goqat's kernel", c.e, c.perChannel)
		}
		one := runLSTMModel(t, m, RoundingTFLite, 1)
		if !slices.Equal(one, b[:len(one)]) {
			t.Errorf("E %d: batch of %d and single sample differ", c.e, n)
		}
	}
}

func abs(x int) int { return max(x, -x) }
