package lite

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/internal/ops"
	"github.com/goqat/goqat/tensor"
)

// DType is a tensor's element type in an integer model.
type DType string

// Element types.
const (
	Int8    DType = "int8"
	Float32 DType = "float32"
)

// OpType names an op of an integer model.
type OpType string

// The ops of an integer model.
const (
	OpConv2D            OpType = "Conv2D"
	OpDepthwiseConv2D   OpType = "DepthwiseConv2D"
	OpFullyConnected    OpType = "FullyConnected"
	OpAdd               OpType = "Add"
	OpConcatenation     OpType = "Concatenation"
	OpMaxPool           OpType = "MaxPool2D"
	OpAveragePool       OpType = "AveragePool2D"
	OpGlobalAveragePool OpType = "GlobalAveragePool"
	OpReshape           OpType = "Reshape"
	OpPad               OpType = "Pad"
	OpSoftmax           OpType = "Softmax"
	OpLogistic          OpType = "Logistic"
	OpTanh              OpType = "Tanh"
	OpQuantize          OpType = "Quantize"
	OpDequantize        OpType = "Dequantize"
	OpHardSwish         OpType = "HardSwish"
	OpHardSigmoid       OpType = "HardSigmoid"
	OpSiLU              OpType = "SiLU"
	OpMul               OpType = "Mul"
	OpGlobalMaxPool     OpType = "GlobalMaxPool"
	OpSlice             OpType = "Slice"
	OpLSTM              OpType = "LSTM"
	OpSimpleRNN         OpType = "SimpleRNN"
	OpGRU               OpType = "GRU"
	// OpBidirectionalConcat merges a Bidirectional layer's forward and
	// backward sequences (lite/bidirectional.go).
	OpBidirectionalConcat OpType = "BidirectionalConcat"
)

// Tensor describes one tensor of an integer model: int8 activations carry
// real = Scale * (q - ZeroPoint) with q in the range of Bits; float32
// tensors (model inputs and outputs by default) carry no parameters.
type Tensor struct {
	// Name is the tensor's name (the QAT layer that produced it).
	Name string `json:"name"`
	// Shape is the per-sample shape (the batch left out).
	Shape tensor.Shape `json:"shape"`
	// DType is Int8 or Float32.
	DType DType `json:"dtype"`
	// Scale and ZeroPoint are the affine quantization parameters (Int8).
	Scale     float32 `json:"scale,omitempty"`
	ZeroPoint int32   `json:"zero_point,omitempty"`
	// Bits is the activation width, 2..8 (Int8; values are clamped to its
	// signed range).
	Bits int `json:"bits,omitempty"`
}

// QRange returns the integer range of an Int8 tensor.
func (t *Tensor) QRange() (qmin, qmax int32) {
	return -1 << (t.Bits - 1), 1<<(t.Bits-1) - 1
}

// Op is one operation of an integer model.
type Op struct {
	// Type is the op kind.
	Type OpType `json:"type"`
	// Name is the QAT layer the op comes from.
	Name string `json:"name"`
	// Inputs and Output index Model.Tensors.
	Inputs []int `json:"inputs"`
	Output int   `json:"output"`
	// Kernel (KH, KW), Strides (SH, SW) and Pad (top, bottom, left,
	// right) give the window of Conv2D, DepthwiseConv2D and the pools,
	// and Pad the padding of Pad.
	Kernel  [2]int `json:"kernel,omitempty"`
	Strides [2]int `json:"strides,omitempty"`
	Pad     [4]int `json:"pad,omitempty"`
	// Dilation (DH, DW) spaces the taps of Conv2D and DepthwiseConv2D:
	// tap (ky, kx) of output pixel (oy, ox) reads input pixel
	// (oy*SH-Pad[0]+ky*DH, ox*SW-Pad[2]+kx*DW). Zero values (left out of
	// the file) mean 1.
	Dilation [2]int `json:"dilation,omitzero"`
	// Groups splits Conv2D's input channels and filters into this many
	// groups: WeightShape (KH,KW,C/Groups,OC), output channel o reading
	// the input channels of group o/(OC/Groups). Zero means 1.
	Groups int `json:"groups,omitempty"`
	// DepthMultiplier is DepthwiseConv2D's number of output channels per
	// input channel M: WeightShape (KH,KW,C*M), output channel c*M+m
	// reading input channel c. Zero means 1.
	DepthMultiplier int `json:"depth_multiplier,omitempty"`
	// Activation is the fused activation: "", "relu" or "relu6" (a clamp
	// of the output).
	Activation string `json:"activation,omitempty"`
	// AxisFromEnd is Concatenation's axis among the per-sample dimensions,
	// counted from the last: 0 the last (channels of NHWC), 1 the one
	// before it, and so on.
	AxisFromEnd int `json:"axis_from_end,omitempty"`
	// Begin, End and Step select Slice's positions along axis AxisFromEnd
	// (counted as Concatenation's): Begin, Begin+Step, ... below End, with
	// 0 <= Begin < End <= the input's dimension. Step 0 (left out of the
	// file) means 1.
	Begin int `json:"begin,omitempty"`
	End   int `json:"end,omitempty"`
	Step  int `json:"step,omitempty"`
	// WeightShape is the kernel's shape: Conv2D (KH,KW,C/Groups,OC),
	// DepthwiseConv2D (KH,KW,C*DepthMultiplier), FullyConnected (in,
	// units).
	WeightShape tensor.Shape `json:"weight_shape,omitempty"`
	// WeightBits is the weights' width, 2..8 (symmetric narrow range).
	WeightBits int `json:"weight_bits,omitempty"`
	// WeightScales holds one scale per output channel, or one for the
	// whole kernel (per-tensor).
	WeightScales []float32 `json:"weight_scales,omitempty"`
	// Weights holds the kernel, unpacked (one int8 per value), row-major
	// in WeightShape; saved packed when WeightBits < 8.
	Weights []int8 `json:"-"`
	// Bias holds one int32 per output channel, scale input_scale *
	// weight_scale[c] (nil: no bias).
	Bias []int32 `json:"-"`
	// CellExponent is LSTM's cell state scale 2^CellExponent
	// (MinCellExponent..MaxCellExponent); ReturnSequences and GoBackwards
	// are the Keras options of LSTM, GRU and SimpleRNN (lite/lstm.go).
	CellExponent    int  `json:"cell_exponent,omitempty"`
	ReturnSequences bool `json:"return_sequences,omitempty"`
	GoBackwards     bool `json:"go_backwards,omitempty"`
	// Masking makes LSTM, GRU and SimpleRNN treat a step whose input
	// codes all equal the input's zero point (features all exactly zero)
	// as padding: the state is carried over and the step outputs the
	// previous output (lite/lstm.go; docs/DESIGN.md, Sequence layers).
	Masking bool `json:"masking,omitempty"`
	// TFLiteMean marks a GlobalAveragePool read from a TFLite MEAN
	// (format/tflite): in rounding tflite it averages as TFLite's runtime
	// computes MEAN (relative to the zero point, in float32, ties to
	// even; docs/tflite.md), and export writes it back as MEAN. The other
	// roundings ignore it.
	TFLiteMean bool `json:"tflite_mean,omitempty"`
}

// hasWeights reports whether the op type carries a kernel.
func (t OpType) hasWeights() bool {
	return t == OpConv2D || t == OpDepthwiseConv2D || t == OpFullyConnected || t == OpLSTM || t == OpSimpleRNN || t == OpGRU || t == OpEmbedding
}

// Model is an integer model: tensors, ops in execution order, and which
// tensors are the model's inputs and outputs.
type Model struct {
	// Name is the model's name.
	Name string `json:"name"`
	// Tensors lists every tensor.
	Tensors []Tensor `json:"tensors"`
	// Ops run in order; each op's inputs are model inputs or outputs of
	// earlier ops.
	Ops []Op `json:"ops"`
	// Inputs and Outputs index Tensors.
	Inputs  []int `json:"inputs"`
	Outputs []int `json:"outputs"`
	// Rounding is the requantization arithmetic the interpreter follows:
	// RoundingGoqat (empty, left out of the file: goqat's single
	// rounding), RoundingTFLite (TensorFlow Lite's runtime) or
	// RoundingTFLiteReference (its reference kernels); docs/DESIGN.md,
	// Numerics: the rounding modes.
	Rounding Rounding `json:"rounding,omitempty"`
}

// Validate checks the whole model: tensor parameters (positive finite
// scales, zero points in range), indices, the data flow, each op's input
// and output types and shapes, weights and biases. Load and NewInterpreter
// call it; the error names the offending tensor or op.
func (m *Model) Validate() error {
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return errors.New("lite: model without inputs or outputs")
	}
	if err := m.Rounding.validate(); err != nil {
		return err
	}
	for i := range m.Tensors {
		if err := m.Tensors[i].validate(); err != nil {
			return fmt.Errorf("lite: tensor %d (%q): %w", i, m.Tensors[i].Name, err)
		}
	}
	ready := make([]bool, len(m.Tensors))
	for _, i := range m.Inputs {
		if i < 0 || i >= len(m.Tensors) {
			return fmt.Errorf("lite: model input index %d out of range", i)
		}
		ready[i] = true
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		if err := m.checkOp(op, ready); err != nil {
			return fmt.Errorf("lite: op %d (%s %q): %w", k, op.Type, op.Name, err)
		}
		ready[op.Output] = true
	}
	for _, i := range m.Outputs {
		if i < 0 || i >= len(m.Tensors) || !ready[i] {
			return fmt.Errorf("lite: model output %d is not computed", i)
		}
	}
	return nil
}

// validate checks one tensor's description.
func (t *Tensor) validate() error {
	if len(t.Shape) == 0 {
		return errors.New("empty shape")
	}
	if _, err := bounds.Values(t.Shape); err != nil {
		return err
	}
	switch t.DType {
	case Float32:
		return nil
	case Int8:
	default:
		return fmt.Errorf("dtype %q (want int8 or float32)", t.DType)
	}
	if t.Bits < 2 || t.Bits > 8 {
		return fmt.Errorf("%d activation bits (want 2..8)", t.Bits)
	}
	if !(t.Scale > 0) || math.IsInf(float64(t.Scale), 0) || t.Scale < 1e-30 {
		return fmt.Errorf("scale %v must be positive and finite", t.Scale)
	}
	if lo, hi := t.QRange(); t.ZeroPoint < lo || t.ZeroPoint > hi {
		return fmt.Errorf("zero point %d outside [%d, %d]", t.ZeroPoint, lo, hi)
	}
	return nil
}

// checkOp checks one op against the tensors computed so far.
func (m *Model) checkOp(op *Op, ready []bool) error {
	if op.Output < 0 || op.Output >= len(m.Tensors) {
		return fmt.Errorf("output index %d out of range", op.Output)
	}
	if ready[op.Output] {
		return fmt.Errorf("output tensor %d is written twice", op.Output)
	}
	nIn := 1
	switch op.Type {
	case OpAdd:
		nIn = len(op.Inputs)
		if nIn < 2 || nIn > 4 {
			return fmt.Errorf("Add of %d inputs, want 2 to 4", nIn)
		}
	case OpConcatenation:
		nIn = len(op.Inputs)
		if nIn < 1 {
			return errors.New("no inputs")
		}
	case OpMul:
		nIn = 2
	case OpBidirectionalConcat:
		nIn = len(op.Inputs)
		if nIn != 2 && nIn != 3 {
			return fmt.Errorf("BidirectionalConcat of %d inputs, want 2 or 3", nIn)
		}
	case OpConv2D, OpDepthwiseConv2D, OpFullyConnected, OpMaxPool, OpAveragePool, OpGlobalAveragePool,
		OpReshape, OpPad, OpSoftmax, OpLogistic, OpTanh, OpQuantize, OpDequantize,
		OpHardSwish, OpHardSigmoid, OpSiLU, OpGlobalMaxPool, OpSlice, OpLSTM, OpSimpleRNN, OpGRU, OpEmbedding:
	default:
		return fmt.Errorf("unknown op type %q", op.Type)
	}
	if len(op.Inputs) != nIn {
		return fmt.Errorf("%d inputs, want %d", len(op.Inputs), nIn)
	}
	ins := make([]*Tensor, nIn)
	for i, x := range op.Inputs {
		if x < 0 || x >= len(m.Tensors) || !ready[x] {
			return fmt.Errorf("input %d (tensor %d) is not computed before the op", i, x)
		}
		ins[i] = &m.Tensors[x]
		want := Int8
		if op.Type == OpQuantize || op.Type == OpEmbedding {
			want = Float32
		}
		if ins[i].DType != want {
			return fmt.Errorf("input %d is %s, want %s", i, ins[i].DType, want)
		}
	}
	out := &m.Tensors[op.Output]
	want := Int8
	if op.Type == OpDequantize {
		want = Float32
	}
	if out.DType != want {
		return fmt.Errorf("output is %s, want %s", out.DType, want)
	}
	switch op.Activation {
	case "", "relu", "relu6":
	default:
		return fmt.Errorf("fused activation %q (want relu, relu6 or none)", op.Activation)
	}
	if err := checkGeometry(op); err != nil {
		return err
	}
	if err := checkSliceRange(op); err != nil {
		return err
	}
	if err := checkLSTM(op, ins[0], out); err != nil {
		return err
	}
	if recurrentGates(op.Type) > 0 {
		return nil // checkLSTM checked the weights and the output shape
	}
	if op.Type == OpBidirectionalConcat {
		return checkBidiConcat(op, ins, out)
	}
	if op.Type == OpEmbedding {
		return checkEmbedding(op, ins[0], out)
	}
	if op.Type.hasWeights() {
		if err := checkWeights(op); err != nil {
			return err
		}
	} else if len(op.Weights) != 0 || len(op.Bias) != 0 {
		return errors.New("weights on an op that takes none")
	}
	if op.TFLiteMean && op.Type != OpGlobalAveragePool {
		return errors.New("tflite_mean on an op other than GlobalAveragePool")
	}
	shape, err := inferShape(op, ins)
	if op.Type == OpReshape {
		shape = out.Shape
		if out.Shape.Size() != ins[0].Shape.Size() {
			err = fmt.Errorf("cannot reshape %v to %v", ins[0].Shape, out.Shape)
		}
	}
	if err != nil {
		return err
	}
	if !shape.Equal(out.Shape) {
		return fmt.Errorf("output shape %v, but the op computes %v", out.Shape, shape)
	}
	switch op.Type {
	case OpMaxPool, OpAveragePool, OpGlobalAveragePool, OpReshape, OpPad, OpGlobalMaxPool, OpSlice:
		if in := ins[0]; in.Scale != out.Scale || in.ZeroPoint != out.ZeroPoint || in.Bits != out.Bits {
			return errors.New("output quantization differs from the input's (the op keeps it)")
		}
	}
	return nil
}

// checkWeights checks a kernel's description and data.
func checkWeights(op *Op) error {
	if op.WeightBits < 2 || op.WeightBits > 8 {
		return fmt.Errorf("%d weight bits (want 2..8)", op.WeightBits)
	}
	rank := map[OpType]int{OpConv2D: 4, OpDepthwiseConv2D: 3, OpFullyConnected: 2}[op.Type]
	if len(op.WeightShape) != rank {
		return fmt.Errorf("weight shape %v, want rank %d", op.WeightShape, rank)
	}
	if _, err := bounds.Values(op.WeightShape); err != nil {
		return fmt.Errorf("weight %w", err)
	}
	if len(op.Weights) != op.WeightShape.Size() {
		return fmt.Errorf("%d weights for shape %v", len(op.Weights), op.WeightShape)
	}
	oc := op.WeightShape[len(op.WeightShape)-1]
	if len(op.WeightScales) != 1 && len(op.WeightScales) != oc {
		return fmt.Errorf("%d weight scales for %d output channels", len(op.WeightScales), oc)
	}
	for _, s := range op.WeightScales {
		if !(s > 0) || math.IsInf(float64(s), 0) || s < 1e-30 {
			return fmt.Errorf("weight scale %v must be positive and finite", s)
		}
	}
	lim := int8(1<<(op.WeightBits-1) - 1)
	for _, w := range op.Weights {
		if w < -lim || w > lim {
			return fmt.Errorf("weight %d outside the %d-bit narrow range [%d, %d]", w, op.WeightBits, -lim, lim)
		}
	}
	if op.Bias != nil && len(op.Bias) != oc {
		return fmt.Errorf("%d biases for %d output channels", len(op.Bias), oc)
	}
	return nil
}

// checkGeometry checks the dilation, groups and depth multiplier: not
// negative, and set only on the ops that take them.
func checkGeometry(op *Op) error {
	if op.Dilation[0] < 0 || op.Dilation[1] < 0 || op.Groups < 0 || op.DepthMultiplier < 0 {
		return fmt.Errorf("negative dilation %v, groups %d or depth multiplier %d", op.Dilation, op.Groups, op.DepthMultiplier)
	}
	if op.Dilation != [2]int{} && op.Type != OpConv2D && op.Type != OpDepthwiseConv2D {
		return fmt.Errorf("dilation %v on an op that takes none", op.Dilation)
	}
	if op.Groups != 0 && op.Type != OpConv2D {
		return fmt.Errorf("groups %d on an op that takes none", op.Groups)
	}
	if op.DepthMultiplier != 0 && op.Type != OpDepthwiseConv2D {
		return fmt.Errorf("depth multiplier %d on an op that takes none", op.DepthMultiplier)
	}
	return nil
}

// maxDilatedWindow bounds the extent of a dilated window, (k-1)*d+1, so
// that the padded input size n+a+b (a, b below the extent, n below 2^28)
// cannot overflow.
const maxDilatedWindow = 1 << 28

// dilatedWindow returns the output size of a window of k taps d apart
// (d = 0 read as 1) with stride s over n values padded by a and b, or an
// error.
func dilatedWindow(n, k, s, d, a, b int) (int, error) {
	d = max(d, 1)
	if k < 1 || (k > 1 && d > (maxDilatedWindow-1)/(k-1)) {
		return 0, fmt.Errorf("bad window: size %d, dilation %d", k, d)
	}
	return window(n, (k-1)*d+1, s, a, b)
}

// window returns the output size of a window k with stride s over n
// values padded by a and b, or an error.
func window(n, k, s, a, b int) (int, error) {
	if k < 1 || s < 1 || s > bounds.MaxExtent || a < 0 || b < 0 || a >= k || b >= k {
		return 0, fmt.Errorf("bad window: size %d, stride %d, padding %d+%d", k, s, a, b)
	}
	if n+a+b < k {
		return 0, fmt.Errorf("window %d larger than the padded input %d", k, n+a+b)
	}
	return (n+a+b-k)/s + 1, nil
}

// inferShape computes an op's per-sample output shape.
func inferShape(op *Op, ins []*Tensor) (tensor.Shape, error) {
	in := ins[0].Shape
	spatial := func(c int) (tensor.Shape, error) {
		if len(in) != 3 {
			return nil, fmt.Errorf("input shape %v, want (H, W, C)", in)
		}
		oh, err := dilatedWindow(in[0], op.Kernel[0], op.Strides[0], op.Dilation[0], op.Pad[0], op.Pad[1])
		if err != nil {
			return nil, err
		}
		ow, err := dilatedWindow(in[1], op.Kernel[1], op.Strides[1], op.Dilation[1], op.Pad[2], op.Pad[3])
		if err != nil {
			return nil, err
		}
		return tensor.Shape{oh, ow, c}, nil
	}
	ws := op.WeightShape
	switch op.Type {
	case OpConv2D:
		g := max(op.Groups, 1)
		if len(in) != 3 || ws[0] != op.Kernel[0] || ws[1] != op.Kernel[1] || in[2]%g != 0 || ws[2] != in[2]/g || ws[3]%g != 0 {
			return nil, fmt.Errorf("kernel %v does not fit input %v, window %v and %d groups", ws, in, op.Kernel, g)
		}
		return spatial(ws[3])
	case OpDepthwiseConv2D:
		m := max(op.DepthMultiplier, 1)
		if len(in) != 3 || ws[0] != op.Kernel[0] || ws[1] != op.Kernel[1] || ws[2]%m != 0 || ws[2]/m != in[2] {
			return nil, fmt.Errorf("kernel %v does not fit input %v, window %v and depth multiplier %d", ws, in, op.Kernel, m)
		}
		return spatial(ws[2])
	case OpMaxPool, OpAveragePool:
		if len(in) != 3 {
			return nil, fmt.Errorf("input shape %v, want (H, W, C)", in)
		}
		return spatial(in[2])
	case OpFullyConnected:
		if len(in) != 1 || in[0] != ws[0] {
			return nil, fmt.Errorf("input %v does not fit kernel %v", in, ws)
		}
		return tensor.Shape{ws[1]}, nil
	case OpGlobalAveragePool, OpGlobalMaxPool:
		if len(in) != 3 {
			return nil, fmt.Errorf("input shape %v, want (H, W, C)", in)
		}
		return tensor.Shape{in[2]}, nil
	case OpMul:
		out, err := ops.BroadcastShape(in, ins[1].Shape)
		return tensor.Shape(out), err
	case OpPad:
		// Bounded, so that the sums cannot wrap (pads near 2^63 made a
		// small shape that the kernel sliced out of range).
		if len(in) != 3 || min(op.Pad[0], op.Pad[1], op.Pad[2], op.Pad[3]) < 0 || max(op.Pad[0], op.Pad[1], op.Pad[2], op.Pad[3]) > bounds.MaxExtent {
			return nil, fmt.Errorf("bad padding %v of %v (each from 0 to %d)", op.Pad, in, bounds.MaxExtent)
		}
		return tensor.Shape{in[0] + op.Pad[0] + op.Pad[1], in[1] + op.Pad[2] + op.Pad[3], in[2]}, nil
	case OpAdd:
		for _, t := range ins[1:] {
			if !in.Equal(t.Shape) {
				return nil, fmt.Errorf("input shapes %v and %v differ", in, t.Shape)
			}
		}
		return in.Clone(), nil
	case OpConcatenation:
		if op.AxisFromEnd < 0 || op.AxisFromEnd >= len(in) {
			return nil, fmt.Errorf("concatenation axis %d from the end of a rank-%d input", op.AxisFromEnd, len(in))
		}
		ax := len(in) - 1 - op.AxisFromEnd
		out := in.Clone()
		for _, t := range ins[1:] {
			s := t.Shape
			if len(s) != len(in) || !s[:ax].Equal(in[:ax]) || !s[ax+1:].Equal(in[ax+1:]) {
				return nil, fmt.Errorf("input shapes %v and %v do not concatenate along axis %d", in, s, ax)
			}
			var ok bool
			if out[ax], ok = bounds.Add(out[ax], s[ax]); !ok {
				return nil, fmt.Errorf("concatenation of %v overflows", s)
			}
		}
		return out, nil
	case OpSlice:
		return sliceShape(op, in)
	case OpReshape:
		return nil, nil // checked by checkOp: any shape of the same size
	default: // element-wise
		return in.Clone(), nil
	}
}
