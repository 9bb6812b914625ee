package quantize

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// Quantizer kinds, the values of Spec.Kind.
const (
	// KindLastValue: the range is the tensor's current min/max (symmetric:
	// max |x|) at every training step; for weights.
	KindLastValue = "last_value"
	// KindMovingAverage: an exponential moving average of the batch
	// min/max, initialised from the first batch; for activations.
	KindMovingAverage = "moving_average"
	// KindAllValues: the running global min/max of every batch seen; for
	// the model input.
	KindAllValues = "all_values"
	// KindLSQ: learned step size (Esser et al. 2020): the scale is a
	// trained parameter.
	KindLSQ = "lsq"
	// KindFixed: a fixed scale and zero point (softmax, sigmoid, tanh).
	KindFixed = "fixed"
)

// DefaultDecay is the moving-average quantizer's EMA decay (tfmot's).
const DefaultDecay = 0.999

// Spec describes a quantizer; it is saved in the layer configs of a QAT
// model, so a loaded model rebuilds the same quantizers. The zero value is
// not valid: use a scheme's Weight, Activation or Input, or fill Kind and
// Bits.
type Spec struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Bits is the integer width, 2..8.
	Bits int `json:"bits"`
	// Narrow drops the lowest integer (int8: [-127, 127]).
	Narrow bool `json:"narrow_range,omitempty"`
	// Symmetric forces zero point 0 (weights).
	Symmetric bool `json:"symmetric,omitempty"`
	// PerAxis quantizes each channel of Axis with its own scale.
	PerAxis bool `json:"per_axis,omitempty"`
	// Axis is the channel axis of the quantized tensor with PerAxis
	// (negative counts from the end; for weights, an axis of the parameter
	// shape).
	Axis int `json:"axis,omitempty"`
	// AxisSpan is the number of consecutive axes from Axis whose indices
	// together number the channels, row-major (0 or 1: Axis alone). A
	// DepthwiseConv2D kernel (KH,KW,C,M) with a depth multiplier M > 1 has
	// axis 2 and span 2: channel c*M+m, the output channel it feeds.
	AxisSpan int `json:"axis_span,omitempty"`
	// GroupSize, with PerAxis, makes each run of GroupSize consecutive
	// channels share one scale (0: every channel its own). An LSTM's
	// kernel (F, 4U) on axis 1 with group size U has one scale per gate
	// matrix, as TFLite's integer LSTM requires (docs/lstm.md). Scales
	// still returns one value per channel, equal within a group.
	GroupSize int `json:"group_size,omitempty"`
	// Decay is the moving average's EMA decay (0 means DefaultDecay).
	Decay float64 `json:"decay,omitempty"`
	// Scale and ZeroPoint are KindFixed's parameters.
	Scale     float32 `json:"scale,omitempty"`
	ZeroPoint int32   `json:"zero_point,omitempty"`
}

// Validate reports an error for an impossible spec.
func (s Spec) Validate() error {
	if s.Bits < 2 || s.Bits > 8 {
		return fmt.Errorf("quantizer %q: %d bits, want 2..8", s.Kind, s.Bits)
	}
	switch s.Kind {
	case KindLastValue, KindAllValues, KindLSQ:
	case KindMovingAverage:
		if s.Decay != 0 && !(s.Decay > 0 && s.Decay < 1) {
			return fmt.Errorf("quantizer %q: decay %v, want (0, 1)", s.Kind, s.Decay)
		}
	case KindFixed:
		if !(s.Scale > 0) {
			return fmt.Errorf("quantizer %q: scale %v must be positive", s.Kind, s.Scale)
		}
		qmin, qmax := qmath.QRange(s.Bits, s.Narrow)
		if s.ZeroPoint < qmin || s.ZeroPoint > qmax {
			return fmt.Errorf("quantizer %q: zero point %d outside [%d, %d]", s.Kind, s.ZeroPoint, qmin, qmax)
		}
	case "":
		return errors.New("quantizer spec without a kind")
	default:
		return fmt.Errorf("unknown quantizer kind %q (want %s, %s, %s, %s or %s)", s.Kind,
			KindLastValue, KindMovingAverage, KindAllValues, KindLSQ, KindFixed)
	}
	if s.AxisSpan < 0 || s.AxisSpan > 1 && !s.PerAxis {
		return fmt.Errorf("quantizer %q: axis span %d, want 0 or 1, or more with per-axis quantization", s.Kind, s.AxisSpan)
	}
	if s.GroupSize < 0 || s.GroupSize > 0 && !s.PerAxis {
		return fmt.Errorf("quantizer %q: group size %d, want 0, or positive with per-axis quantization", s.Kind, s.GroupSize)
	}
	if s.PerAxis && (s.Kind == KindFixed || s.Kind == KindMovingAverage || s.Kind == KindAllValues) {
		return fmt.Errorf("quantizer %q: per-axis quantization is only for last_value and lsq", s.Kind)
	}
	return nil
}

// layout returns the layout of the quantizer's channels over a tensor of
// the given shape (one channel without PerAxis) and the number of the
// axis's channels each holds (GroupSize, or 1).
func (s Spec) layout(shape tensor.Shape) (layout, int, error) {
	if !s.PerAxis {
		return layout{channels: 1, inner: 1}, 1, nil
	}
	lay, ok := axisLayout(shape, s.Axis, s.AxisSpan)
	if !ok {
		return layout{}, 0, fmt.Errorf("per-axis quantizer: axis %d out of range for shape %v", s.Axis, shape)
	}
	g := max(s.GroupSize, 1)
	if lay.channels%g != 0 {
		return layout{}, 0, fmt.Errorf("per-axis quantizer: %d channels do not split into groups of %d", lay.channels, g)
	}
	return layout{channels: lay.channels / g, inner: lay.inner * g}, g, nil
}

// perChannel repeats each of v's values g times: one value per channel of
// the axis from one per group.
func perChannel[E any](v []E, g int) []E {
	if g <= 1 {
		return v
	}
	out := make([]E, 0, len(v)*g)
	for _, x := range v {
		for range g {
			out = append(out, x)
		}
	}
	return out
}

// New returns a new, unbuilt quantizer for the spec.
func (s Spec) New() (Quantizer, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindLastValue:
		return &LastValue{rangeState: rangeState{spec: s}}, nil
	case KindMovingAverage:
		if s.Decay == 0 {
			s.Decay = DefaultDecay
		}
		return &MovingAverage{rangeState: rangeState{spec: s}}, nil
	case KindAllValues:
		return &AllValues{rangeState: rangeState{spec: s}}, nil
	case KindLSQ:
		return &LSQ{spec: s}, nil
	default:
		return &Fixed{spec: s}, nil
	}
}

// FixedSpec returns the spec of a fixed quantizer with the given scale and
// zero point (8 bits).
func FixedSpec(scale float32, zeroPoint int32) Spec {
	return Spec{Kind: KindFixed, Bits: 8, Scale: scale, ZeroPoint: zeroPoint}
}

// Fixed output parameters (docs/DESIGN.md, Numerics).
var (
	// SoftmaxSpec quantizes softmax and sigmoid outputs: scale 1/256, zero
	// point -128 (int8 covers [0, 255/256]).
	SoftmaxSpec = FixedSpec(1.0/256, -128)
	// TanhSpec quantizes tanh outputs: scale 1/128, zero point 0.
	TanhSpec = FixedSpec(1.0/128, 0)
)
