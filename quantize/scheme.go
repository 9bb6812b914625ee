package quantize

import (
	"fmt"
	"regexp"
	"strconv"
)

// NBit is goqat's one quantization scheme, parameterised by bit widths (no
// copy of the 8-bit code per width): weights symmetric narrow-range
// (per output channel with PerAxis) with a LastValue quantizer, activations
// asymmetric per tensor with a MovingAverage quantizer, the model input
// with an AllValues quantizer; with LSQ, weights and activations use
// learned step sizes instead.
type NBit struct {
	// WeightBits is the weights' width, 2..8.
	WeightBits int
	// ActivationBits is the activations' width, 4..8.
	ActivationBits int
	// PerAxis gives every output channel of a kernel its own scale.
	PerAxis bool
	// LSQ learns the step sizes (Esser et al.) instead of tracking ranges.
	LSQ bool
	// PerGate gives the kernels of the recurrent layers (LSTM, GRU,
	// SimpleRNN) one scale per gate matrix, the U columns of one gate in
	// the kernel and in the recurrent kernel, whatever PerAxis says: the
	// granularity TFLite's integer LSTM takes (lite.TFLiteLSTMScales), so
	// that the converted model exports with format/tflite. Other layers
	// ignore it. Without it the recurrent kernels follow PerAxis (one
	// scale per gate column, or per kernel).
	PerGate bool
}

// Default8Bit is tfmot's default scheme: 8-bit weights per output channel,
// 8-bit activations.
var Default8Bit = NBit{WeightBits: 8, ActivationBits: 8, PerAxis: true}

// Validate reports an error for unsupported widths.
func (s NBit) Validate() error {
	if s.WeightBits < 2 || s.WeightBits > 8 {
		return fmt.Errorf("quantize: scheme %s: weight bits must be 2..8", s)
	}
	if s.ActivationBits < 4 || s.ActivationBits > 8 {
		return fmt.Errorf("quantize: scheme %s: activation bits must be 4..8", s)
	}
	return nil
}

// String names the scheme like the command line: "w8a8", "w4a8-lsq",
// with "-pt" for per-tensor weights and "-gate" for recurrent weights per
// gate matrix.
func (s NBit) String() string {
	out := fmt.Sprintf("w%da%d", s.WeightBits, s.ActivationBits)
	if !s.PerAxis {
		out += "-pt"
	}
	if s.LSQ {
		out += "-lsq"
	}
	if s.PerGate {
		out += "-gate"
	}
	return out
}

// Weight returns the spec of a weight quantizer; axis is the output-channel
// axis of the weight (used with PerAxis).
func (s NBit) Weight(axis int) Spec {
	k := KindLastValue
	if s.LSQ {
		k = KindLSQ
	}
	return Spec{Kind: k, Bits: s.WeightBits, Narrow: true, Symmetric: true, PerAxis: s.PerAxis, Axis: axis}
}

// GateWeight returns the spec of the quantizer of a recurrent layer's
// kernel (F, G*U) or recurrent kernel (U, G*U), G gates of units U:
// Weight(1), or with PerGate one scale per run of U columns (a gate
// matrix).
func (s NBit) GateWeight(units int) Spec {
	sp := s.Weight(1)
	if s.PerGate {
		sp.PerAxis, sp.GroupSize = true, units
	}
	return sp
}

// Activation returns the spec of an activation (layer output) quantizer.
func (s NBit) Activation() Spec {
	if s.LSQ {
		return Spec{Kind: KindLSQ, Bits: s.ActivationBits}
	}
	return Spec{Kind: KindMovingAverage, Bits: s.ActivationBits, Decay: DefaultDecay}
}

// Input returns the spec of the model input's quantizer.
func (s NBit) Input() Spec {
	return Spec{Kind: KindAllValues, Bits: s.ActivationBits}
}

var schemeRE = regexp.MustCompile(`^w([2-8])a([2-8])$`)

// ParseScheme parses a scheme name: "8bit" (or "default", Default8Bit) or
// "w<weight bits>a<activation bits>" such as "w4a8", with per-axis weights.
// lsq selects learned step sizes.
func ParseScheme(name string, lsq bool) (NBit, error) {
	var s NBit
	switch name {
	case "8bit", "default", "default8bit":
		s = Default8Bit
	default:
		m := schemeRE.FindStringSubmatch(name)
		if m == nil {
			return NBit{}, fmt.Errorf("unknown scheme %q (want 8bit or wNaM such as w4a8, w2a8, w4a4)", name)
		}
		w, _ := strconv.Atoi(m[1])
		a, _ := strconv.Atoi(m[2])
		s = NBit{WeightBits: w, ActivationBits: a, PerAxis: true}
	}
	s.LSQ = lsq
	return s, s.Validate()
}
