package quantize_test

import (
	"testing"

	"github.com/goqat/goqat/qmath"
)

// TestQuantizationDocWorkedExample pins every number of the worked example
// in docs/quantization.md: if this test changes, the document must too.
func TestQuantizationDocWorkedExample(t *testing.T) {
	// 1. An activation range, 8-bit asymmetric.
	s, zp := qmath.Params(-0.5, 1.4921875, 8, false, false)
	if s != 1.0/128 || zp != -64 {
		t.Fatalf("activation params: scale %v zero point %d, want 1/128 and -64", s, zp)
	}
	qmin, qmax := qmath.QRange(8, false)
	for _, c := range []struct {
		x    float32
		want int32
	}{
		{0.01171875, -62}, // 1.5 steps: the tie rounds to even, 2
		{0.01953125, -62}, // 2.5 steps: the tie rounds to even, 2
		{0, -64},          // zero is exact: the zero point
		{3.0, 127},        // clamped to qmax
		{-1.0, -128},      // clamped to qmin
	} {
		if got := qmath.QuantizeValue(c.x, s, zp, qmin, qmax); got != c.want {
			t.Errorf("activation %v: code %d, want %d", c.x, got, c.want)
		}
	}
	// 2. A weight channel, 8-bit symmetric narrow range.
	ws, wzp := qmath.Params(-0.49609375, 0.25, 8, true, true)
	if ws != 1.0/256 || wzp != 0 {
		t.Fatalf("weight params: scale %v zero point %d, want 1/256 and 0", ws, wzp)
	}
	wmin, wmax := qmath.QRange(8, true)
	if wmin != -127 || wmax != 127 {
		t.Fatalf("narrow range [%d, %d]", wmin, wmax)
	}
	for _, c := range []struct {
		w    float32
		want int32
	}{{0.009765625, 2}, {-0.013671875, -4}, {-0.49609375, -127}} {
		if got := qmath.QuantizeValue(c.w, ws, 0, wmin, wmax); got != c.want {
			t.Errorf("weight %v: code %d, want %d", c.w, got, c.want)
		}
	}
	// 3. The bias on the accumulator's grid, scale s_in * s_w = 1/32768.
	if b := qmath.QuantizeBias(0.1, s, ws); b != 3277 {
		t.Errorf("bias code %d, want 3277", b)
	}
	// 4. Requantization to an output of scale 1/16, zero point -128:
	// M = (1/128)(1/256)/(1/16) = 1/2048 = 2^30 / 2^41.
	m, err := qmath.NewMultiplier(float64(s) * float64(ws) / (1.0 / 16))
	if err != nil {
		t.Fatal(err)
	}
	if m.M0 != 1<<30 || m.Shift != 41 {
		t.Fatalf("multiplier M0 %d shift %d, want 2^30 and 41", m.M0, m.Shift)
	}
	for _, c := range []struct{ acc, want int32 }{
		{5120, -126},  // 2.5: the tie rounds to even, 2
		{7168, -124},  // 3.5: the tie rounds to even, 4
		{-4096, -128}, // -2, clamped by the fused ReLU at the zero point
		{999999, 127}, // saturates at qmax
		{20480, -118}, // 10
	} {
		if got := qmath.Requantize(c.acc, m, -128, -128, 127); got != c.want {
			t.Errorf("requantize %d: %d, want %d", c.acc, got, c.want)
		}
	}
}
