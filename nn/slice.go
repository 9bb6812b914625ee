package nn

import (
	"encoding/json"
	"fmt"

	"github.com/goqat/goqat/internal/kernels"
	"github.com/goqat/goqat/tensor"
)

// Slice keeps a range of one axis of each sample: the positions Begin,
// Begin+Step, Begin+2*Step, ... below End, as x[..., Begin:End:Step, ...]
// in NumPy. It is the channel split of ShuffleNet v2 (torch.chunk, which
// ONNX writes as Slice or Split) and, on H or W, a one-sided Keras
// Cropping. It only moves values: its output keeps its input's
// quantization (docs/DESIGN.md, Numerics).
//
// Axis is counted like Concatenate's, with the batch as axis 0: -1 (the
// default) is the last axis (channels for NHWC images), a positive axis a
// counts from the batch, so axis 1 is a sample's first dimension; the
// batch cannot be sliced. Begin and End count from the start of the axis,
// 0 <= Begin < End <= its dimension, and Step is at least 1: the output
// has ceil((End-Begin)/Step) positions on the axis.
type Slice struct {
	Base
	// Axis is the sliced axis (Keras counting, see the type's doc).
	Axis int
	// Begin is the first position kept; End is one past the last
	// position that may be kept.
	Begin, End int
	// Step is the distance between kept positions (1: a contiguous
	// range).
	Step int

	inShape  tensor.Shape // per-sample input shape
	outShape tensor.Shape // per-sample output shape
	axis     int          // resolved per-sample axis
	outer    int          // per sample: product of the dimensions before the axis
	dim      int          // input dimension of the axis
	kept     int          // output dimension of the axis
	inner    int          // product of the dimensions after the axis
	shp      []int        // scratch full shape (batch included)
	x, dy    *tensor.Tensor
	out, dx  *tensor.Tensor
	dxs      [1]*tensor.Tensor
	fwdFn    func(lo, hi int)
	bwdFn    func(lo, hi int)
}

// SliceConfig is Slice's saved configuration.
type SliceConfig struct {
	Axis  int `json:"axis"`
	Begin int `json:"begin"`
	End   int `json:"end"`
	Step  int `json:"step"`
}

// NewSlice returns a Slice layer keeping positions [begin, end) of axis
// (Keras counting: -1 the last axis, 1 a sample's first dimension).
func NewSlice(axis, begin, end int) *Slice {
	return &Slice{Axis: axis, Begin: begin, End: end, Step: 1}
}

func init() {
	Register("Slice", func(name string, raw json.RawMessage) (Layer, error) {
		cfg := SliceConfig{Axis: -1, Step: 1}
		if err := decodeConfig(raw, &cfg); err != nil {
			return nil, fmt.Errorf("Slice %q: config: %w", name, err)
		}
		s := &Slice{Axis: cfg.Axis, Begin: cfg.Begin, End: cfg.End, Step: cfg.Step}
		s.SetName(name)
		if err := s.check(); err != nil {
			return nil, err
		}
		return s, nil
	})
}

// Type returns "Slice".
func (s *Slice) Type() string { return "Slice" }

// Config returns a SliceConfig.
func (s *Slice) Config() any {
	return SliceConfig{Axis: s.Axis, Begin: s.Begin, End: s.End, Step: s.Step}
}

// Params returns nil: Slice has no weights.
func (s *Slice) Params() []*Param { return nil }

// SampleAxis returns the sliced axis among a sample's dimensions (0 is a
// sample's first dimension), resolved by Build from Axis.
func (s *Slice) SampleAxis() int { return s.axis }

// check validates the range and step, whatever the input.
func (s *Slice) check() error {
	if s.Axis == 0 {
		return fmt.Errorf("Slice %q: cannot slice the batch axis 0", s.Name())
	}
	if s.Begin < 0 || s.End <= s.Begin || s.Step < 1 {
		return fmt.Errorf("Slice %q: range [%d, %d) step %d: want 0 <= begin < end and step >= 1", s.Name(), s.Begin, s.End, s.Step)
	}
	return nil
}

// Build checks for one input whose axis holds the range and returns the
// sliced shape.
func (s *Slice) Build(in []tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("Slice %q: expects 1 input, got %d", s.Name(), len(in))
	}
	if err := in[0].Valid(); err != nil {
		return nil, fmt.Errorf("Slice %q: %w", s.Name(), err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	rank := len(in[0])
	a := s.Axis
	if a < 0 {
		a += rank + 1 // Keras axis with the batch
	}
	if a == 0 {
		return nil, fmt.Errorf("Slice %q: cannot slice the batch axis (axis %d)", s.Name(), s.Axis)
	}
	if a < 0 || a > rank {
		return nil, fmt.Errorf("Slice %q: axis %d out of range for input shape %v (batch included, valid axes are 1..%d or -%d..-1)", s.Name(), s.Axis, in[0], rank, rank)
	}
	a-- // per-sample axis
	if s.End > in[0][a] {
		return nil, fmt.Errorf("Slice %q: range [%d, %d) of axis %d, whose dimension is %d (input shape %v)", s.Name(), s.Begin, s.End, s.Axis, in[0][a], in[0])
	}
	s.axis = a
	s.inShape = in[0].Clone()
	s.outer = tensor.Shape(in[0][:a]).Size()
	s.dim = in[0][a]
	s.inner = tensor.Shape(in[0][a+1:]).Size()
	s.kept = (s.End-s.Begin-1)/s.Step + 1 // ceil((End-Begin)/Step), no overflow
	s.outShape = in[0].Clone()
	s.outShape[a] = s.kept
	s.fwdFn = s.forwardRange
	s.bwdFn = s.backwardRange
	return s.outShape.Clone(), nil
}

// Forward copies the kept positions of each sample's axis.
// x (N, ..., D, ...) -> out (N, ..., ceil((End-Begin)/Step), ...)
func (s *Slice) Forward(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	x := in[0]
	n := x.Shape[0]
	if len(x.Data) != n*s.inShape.Size() {
		panic(fmt.Sprintf("Slice %q: input shape %v, built for %v", s.Name(), x.Shape, s.inShape))
	}
	s.x = x
	s.shp = append(append(s.shp[:0], n), s.outShape...)
	tensor.Ensure(&s.out, s.shp...)
	row := s.kept * s.inner
	kernels.ParallelFor(n*s.outer, max(1, actGrain/row), s.fwdFn)
	s.x = nil
	return s.out
}

// forwardRange copies rows [lo, hi) of (N*outer) from x to out.
func (s *Slice) forwardRange(lo, hi int) {
	in, out := s.dim*s.inner, s.kept*s.inner
	for r := lo; r < hi; r++ {
		src, dst := s.x.Data[r*in:(r+1)*in], s.out.Data[r*out:(r+1)*out]
		if s.Step == 1 {
			copy(dst, src[s.Begin*s.inner:])
			continue
		}
		for k := range s.kept {
			p := s.Begin + k*s.Step
			copy(dst[k*s.inner:(k+1)*s.inner], src[p*s.inner:])
		}
	}
}

// Backward scatters dOut into a zero gradient of the input's shape: the
// positions the slice dropped get zero.
// dOut (N, ..., kept, ...) -> dx (N, ..., D, ...)
func (s *Slice) Backward(c *Context, dOut *tensor.Tensor) []*tensor.Tensor {
	n := dOut.Shape[0]
	if len(dOut.Data) != n*s.outShape.Size() {
		panic(fmt.Sprintf("Slice %q: gradient shape %v, built for output %v", s.Name(), dOut.Shape, s.outShape))
	}
	s.shp = append(append(s.shp[:0], n), s.inShape...)
	s.dxs[0] = tensor.Ensure(&s.dx, s.shp...)
	s.dy = dOut
	row := s.dim * s.inner
	kernels.ParallelFor(n*s.outer, max(1, actGrain/row), s.bwdFn)
	s.dy = nil
	return s.dxs[:]
}

// backwardRange fills rows [lo, hi) of (N*outer) of dx from dOut.
func (s *Slice) backwardRange(lo, hi int) {
	in, out := s.dim*s.inner, s.kept*s.inner
	for r := lo; r < hi; r++ {
		dst, src := s.dx.Data[r*in:(r+1)*in], s.dy.Data[r*out:(r+1)*out]
		clear(dst)
		if s.Step == 1 {
			copy(dst[s.Begin*s.inner:], src)
			continue
		}
		for k := range s.kept {
			p := s.Begin + k*s.Step
			copy(dst[p*s.inner:(p+1)*s.inner], src[k*s.inner:])
		}
	}
}
