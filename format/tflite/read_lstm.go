package tflite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/tensor"
)

// Reading the sequence operators back (docs/tflite.md, Sequence models):
// an integer UNIDIRECTIONAL_SEQUENCE_LSTM of the form export writes
// becomes a goqat LSTM (ReturnSequences; a STRIDED_SLICE of the last step
// becomes a Slice and a Reshape), CAST of a float32 model input to int32
// followed by GATHER of an int8 table becomes an Embedding.

// The fixed inputs of UNIDIRECTIONAL_SEQUENCE_LSTM.
const (
	uslInputs      = 24
	uslOutputState = 18
	uslCellState   = 19
)

// uslOptional lists the inputs that must be absent (-1): peepholes,
// projection, layer norm.
var uslOptional = []int{9, 10, 11, 16, 17, 20, 21, 22, 23}

// lstm reads an integer UNIDIRECTIONAL_SEQUENCE_LSTM.
func (r *reader) lstm(o *opIn, name string) error {
	if len(o.ins) != uslInputs {
		return fmt.Errorf("%d inputs, want %d", len(o.ins), uslInputs)
	}
	for _, i := range uslOptional {
		if o.ins[i] != -1 {
			return fmt.Errorf("input %d is set: peepholes, projection and layer norm are not supported", i)
		}
	}
	x, err := r.input(o, 0)
	if err != nil {
		return err
	}
	xt := r.m.Tensors[x]
	if xt.DType != lite.Int8 || len(xt.Shape) != 2 {
		return fmt.Errorf("input %q: %s %v, want int8 (1, T, F)", xt.Name, xt.DType, xt.Shape)
	}
	t, f := xt.Shape[0], xt.Shape[1]
	opts, err := o.options(optUniSeqLSTM)
	if err != nil {
		return err
	}
	if opts == nil {
		return fmt.Errorf("no options")
	}
	act, err := opts.u8(lstmAct, actNone)
	if err != nil {
		return err
	}
	var clips [2]float32
	for i := range clips {
		if clips[i], err = opts.f32(lstmCellClip+i, 0); err != nil {
			return err
		}
	}
	tm, err := opts.u8(lstmTimeMajor, 0)
	if err != nil {
		return err
	}
	asym, err := opts.u8(lstmAsymmetric, 0)
	if err != nil {
		return err
	}
	if act != actTanh || clips[0] != 0 || clips[1] != 0 || tm != 0 || asym != 0 {
		return fmt.Errorf("activation %d, cell clip %v, projection clip %v, time_major %d: want TANH, no clips, batch-major", act, clips[0], clips[1], tm)
	}
	// The recurrent weights (U, U) give the units.
	rf, err := r.constant(o, 6, typeInt8)
	if err != nil {
		return err
	}
	if len(rf.shape) != 2 || rf.shape[0] != rf.shape[1] || rf.shape[0] < 1 {
		return fmt.Errorf("recurrent weights of shape %v, want (U, U)", rf.shape)
	}
	u := int(rf.shape[0])
	gu := 4 * u
	op := lite.Op{Type: lite.OpLSTM, Name: name, Inputs: []int{x}, WeightShape: tensor.Shape{f + u, gu}, WeightBits: 8,
		Weights: make([]int8, (f+u)*gu), WeightScales: make([]float32, 2*gu), Bias: make([]int32, gu), ReturnSequences: true}
	for g := range 4 {
		for k, rows := range []int{f, u} {
			w, err := r.constant(o, 1+4*k+g, typeInt8)
			if err != nil {
				return err
			}
			if len(w.shape) != 2 || int(w.shape[0]) != u || int(w.shape[1]) != rows {
				return fmt.Errorf("input %d: weights of shape %v, want (%d, %d)", 1+4*k+g, w.shape, u, rows)
			}
			if len(w.scales) != 1 || (len(w.zps) == 1 && w.zps[0] != 0) {
				return fmt.Errorf("input %d: %d scales, want one with zero point 0 (one scale per gate matrix)", 1+4*k+g, len(w.scales))
			}
			for j := range gu / 4 {
				op.WeightScales[k*gu+g*u+j] = w.scales[0]
				for c := range rows {
					op.Weights[(k*f+c)*gu+g*u+j] = int8(w.data[j*rows+c])
				}
			}
		}
		b, err := r.constant(o, 12+g, typeInt32)
		if err != nil {
			return err
		}
		if len(b.shape) != 1 || int(b.shape[0]) != u {
			return fmt.Errorf("input %d: bias of shape %v, want (%d)", 12+g, b.shape, u)
		}
		bv, err := r.int32Data(b)
		if err != nil {
			return err
		}
		copy(op.Bias[g*u:], bv)
	}
	out, err := r.tensorAt(o.outs[0])
	if err != nil {
		return err
	}
	if out.typ != typeInt8 || len(out.scales) != 1 || len(out.zps) != 1 {
		return fmt.Errorf("output %q must be int8 with one scale and zero point", out.name)
	}
	if len(out.shape) != 3 || int(out.shape[1]) != t || int(out.shape[2]) != u {
		return fmt.Errorf("output %q of shape %v, want (1, %d, %d)", out.name, out.shape, t, u)
	}
	hs, err := r.tensorAt(o.ins[uslOutputState])
	if err != nil {
		return err
	}
	if hs.data != nil || hs.typ != typeInt8 || len(hs.scales) != 1 || len(hs.zps) != 1 || hs.scales[0] != out.scales[0] || hs.zps[0] != out.zps[0] {
		return fmt.Errorf("output state %q must be a variable int8 tensor of the output's scale and zero point", hs.name)
	}
	cs, err := r.tensorAt(o.ins[uslCellState])
	if err != nil {
		return err
	}
	if cs.data != nil || cs.typ != typeInt16 || len(cs.scales) != 1 || (len(cs.zps) == 1 && cs.zps[0] != 0) {
		return fmt.Errorf("cell state %q must be a variable int16 tensor of zero point 0", cs.name)
	}
	frac, exp := math.Frexp(float64(cs.scales[0]))
	op.CellExponent = exp - 1
	if frac != 0.5 || op.CellExponent < lite.MinCellExponent || op.CellExponent > lite.MaxTFLiteCellExponent {
		return fmt.Errorf("cell state scale %v: want a power of two 2^-12 to 2^-9", cs.scales[0])
	}
	if len(o.inter) != 5 {
		return fmt.Errorf("%d intermediates, want 5 (the integer 8x8_16 kernel)", len(o.inter))
	}
	hid, err := r.tensorAt(o.inter[4])
	if err != nil {
		return err
	}
	// TFLite's kernel subtracts the hidden intermediate's zero point
	// (export writes it negated): the output's codes need -zh there.
	if hid.typ != typeInt8 || len(hid.scales) != 1 || len(hid.zps) != 1 || hid.scales[0] != out.scales[0] || hid.zps[0] != -out.zps[0] {
		return fmt.Errorf("hidden intermediate %q must be int8 of the output's scale and the negated output zero point", hid.name)
	}
	return r.add(op, o.outs[0])
}

// cast records a CAST of a float32 model input to int32: the indices of
// a GATHER (an Embedding).
func (r *reader) cast(o *opIn) error {
	if len(o.ins) != 1 {
		return fmt.Errorf("%d inputs, want 1", len(o.ins))
	}
	in, err := r.tensorAt(o.ins[0])
	if err != nil {
		return err
	}
	out, err := r.tensorAt(o.outs[0])
	if err != nil {
		return err
	}
	if in.typ != typeFloat32 || out.typ != typeInt32 {
		return fmt.Errorf("%s to %s: only FLOAT32 to INT32 (Embedding indices) is supported", typeName(in.typ), typeName(out.typ))
	}
	x, err := r.activation(o.ins[0])
	if err != nil {
		return err
	}
	if r.indices == nil {
		r.indices = map[int32]int{}
	}
	r.indices[o.outs[0]] = x
	return nil
}

// gather reads a GATHER of an int8 table's rows (V, D) along axis 0 at
// indices cast from a float32 input: an Embedding.
func (r *reader) gather(o *opIn, name string) error {
	if len(o.ins) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(o.ins))
	}
	tab, err := r.constant(o, 0, typeInt8)
	if err != nil {
		return err
	}
	if len(tab.shape) != 2 || len(tab.scales) != 1 || (len(tab.zps) == 1 && tab.zps[0] != 0) {
		return fmt.Errorf("table of shape %v with %d scales: want (V, D), one scale, zero point 0", tab.shape, len(tab.scales))
	}
	x, ok := r.indices[o.ins[1]]
	if !ok {
		return fmt.Errorf("indices must be a CAST of a float32 input to INT32")
	}
	opts, err := o.options(optGather)
	if err != nil {
		return err
	}
	axis, err := optI32(opts, gatherAxis, 0)
	if err != nil {
		return err
	}
	if axis != 0 {
		return fmt.Errorf("axis %d, want 0", axis)
	}
	op := lite.Op{Type: lite.OpEmbedding, Name: name, Inputs: []int{x}, WeightShape: tensor.Shape{int(tab.shape[0]), int(tab.shape[1])},
		WeightBits: 8, Weights: make([]int8, len(tab.data)), WeightScales: []float32{tab.scales[0]}}
	for i, b := range tab.data {
		op.Weights[i] = int8(b)
	}
	return r.add(op, o.outs[0])
}
