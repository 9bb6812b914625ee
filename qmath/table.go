package qmath

// Table returns the 256-entry lookup table of an element-wise function f
// on int8 codes: entry q+128 holds the output code of f(sIn*(q - zpIn)),
// f computed in float64 and its value quantized with QuantizeValue to the
// output's scale and zero point in [-128, 127]. The runtime's Logistic and
// Tanh ops run through such tables.
func Table(f func(float64) float64, sIn float32, zpIn int32, sOut float32, zpOut int32) [256]int8 {
	return TableClamped(f, sIn, zpIn, sOut, zpOut, -128, 127)
}

// TableClamped is Table with the output codes clamped to [lo, hi] (within
// [-128, 127]): an output narrower than 8 bits, or one narrowed by a fused
// activation (ActivationRange). The runtime's HardSwish, HardSigmoid and
// SiLU ops and the QAT model's exact inference of them use it.
func TableClamped(f func(float64) float64, sIn float32, zpIn int32, sOut float32, zpOut int32, lo, hi int32) [256]int8 {
	var t [256]int8
	for q := -128; q < 128; q++ {
		x := float64(sIn) * float64(int32(q)-zpIn)
		t[q+128] = int8(QuantizeValue(float32(f(x)), sOut, zpOut, lo, hi))
	}
	return t
}
