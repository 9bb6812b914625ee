package lite

import (
	"math"
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
