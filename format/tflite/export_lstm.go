package tflite

import (
	"fmt"
	"math"

	"github.com/goqat/goqat/lite"
)

// The recurrent ops (docs/tflite.md, Sequence models). An integer LSTM is
// written as TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM in its integer "8x8_16"
// form: 24 inputs (the input (1, T, F) int8; per gate i, f, c, o the
// input weights (U, F) and recurrent weights (U, U), int8 with one scale
// and zero point 0; the four biases (U) int32 of scale s_x s_w; the
// output state (1, U) int8 and the cell state (1, U) int16 of scale 2^E,
// both variable; no peepholes, projection or layer norm), batch-major
// (time_major false), no cell clip (the cell saturates at int16 as
// goqat's), activation TANH, and five intermediates: the four gates'
// int16 Q3.12 (scale 2^-12) and the hidden state's int8 at the output's
// scale and zero point (TFLite derives the output multiplier from it).
// The op's output is the whole sequence (1, T, U); a last-step output is
// a STRIDED_SLICE of the last step with shrink_axis_mask; go_backwards is
// a STRIDED_SLICE reversing the input's time axis first.
//
// TFLite's kernel computes with its own arithmetic (lite/lstm_tflite.go):
// one multiplier per gate matrix, so per-channel weights are refused;
// goqat's rounding differs from it by a step on some values, rounding
// tflite computes it exactly.

// uslstmVersion is the version TFLite's converter gives an integer
// UNIDIRECTIONAL_SEQUENCE_LSTM.
const uslstmVersion = 1

// recurrent appends the operators of a recurrent op.
func (g *graph) recurrent(op *lite.Op, in, out int32) error {
	switch op.Type {
	case lite.OpGRU, lite.OpSimpleRNN:
		return fmt.Errorf("%s has no TFLite integer equivalent (TFLite has no integer %s builtin, and int8/int16 builtin ops cannot compute its int16 gates exactly); export an LSTM instead", op.Type, op.Type)
	}
	if op.Masking {
		return fmt.Errorf("%s %q with masking: TFLite's integer LSTM has no padding steps (export a model without Masking)", op.Type, op.Name)
	}
	sc, ok := lite.TFLiteLSTMScales(op)
	if !ok {
		return fmt.Errorf("LSTM with per-channel weights: TFLite's integer LSTM takes one scale per gate matrix (quantize with goqat quantize --lstm-weights gate, or the scheme's PerGate: quantize.NBit{..., PerGate: true})")
	}
	if op.CellExponent > lite.MaxTFLiteCellExponent {
		return fmt.Errorf("LSTM cell state of scale 2^%d: TFLite's integer LSTM computes tanh of the cell for scales up to 2^%d only", op.CellExponent, lite.MaxTFLiteCellExponent)
	}
	if op.WeightBits > 8 {
		return fmt.Errorf("%d-bit LSTM weights (TFLite's are int8)", op.WeightBits)
	}
	it, ot := g.tensors[in], g.tensors[out]
	if it.typ != typeInt8 || ot.typ != typeInt8 {
		return fmt.Errorf("LSTM input and output must be int8")
	}
	t, f := int(it.shape[1]), int(it.shape[2])
	gu := op.WeightShape[1]
	u := gu / 4
	sx, sh, zh := it.scales[0], ot.scales[0], ot.zps[0]
	name := op.Name
	if op.GoBackwards {
		rev := g.like(in, name+"/reversed", []int32{1, int32(t), int32(f)})
		g.stridedSlice(name+"/reverse", in, rev, []int32{0, int32(t - 1), 0}, []int32{1, 0, int32(f)},
			[]int32{1, -1, 1}, 2, 0)
		in = rev
	}
	seqOut := out
	if !op.ReturnSequences {
		seqOut = g.like(out, name+"/sequence", []int32{1, int32(t), int32(u)})
	}
	zeros := func(n int) []int64 { return make([]int64, n) }
	var ins [24]int32
	for i := range ins {
		ins[i] = -1
	}
	ins[0] = in
	gates := []string{"input", "forget", "cell", "output"}
	for k := range 4 {
		wx := make([]byte, u*f)
		for j := range u {
			for r := range f {
				wx[j*f+r] = byte(op.Weights[r*gu+k*u+j])
			}
		}
		wr := make([]byte, u*u)
		for j := range u {
			for r := range u {
				wr[j*u+r] = byte(op.Weights[(f+r)*gu+k*u+j])
			}
		}
		ins[1+k] = g.constant(fmt.Sprintf("%s/input_to_%s_weights", name, gates[k]), typeInt8, []int32{int32(u), int32(f)},
			wx, []float32{sc[k]}, zeros(1), 0)
		ins[5+k] = g.constant(fmt.Sprintf("%s/recurrent_to_%s_weights", name, gates[k]), typeInt8, []int32{int32(u), int32(u)},
			wr, []float32{sc[4+k]}, zeros(1), 0)
		b := make([]int32, u)
		if op.Bias != nil {
			copy(b, op.Bias[k*u:(k+1)*u])
		}
		ins[12+k] = g.constant(fmt.Sprintf("%s/%s_gate_bias", name, gates[k]), typeInt32, []int32{int32(u)},
			int32Bytes(b), []float32{sx * sc[k]}, zeros(1), 0)
	}
	ins[18] = g.add(fileTensor{name: name + "/output_state", shape: []int32{1, int32(u)}, typ: typeInt8,
		scales: []float32{sh}, zps: []int64{zh}, variable: true})
	ins[19] = g.add(fileTensor{name: name + "/cell_state", shape: []int32{1, int32(u)}, typ: typeInt16,
		scales: []float32{float32(math.Ldexp(1, op.CellExponent))}, zps: zeros(1), variable: true})
	inter := make([]int32, 5)
	for k := range 4 {
		inter[k] = g.add(fileTensor{name: fmt.Sprintf("%s/%s_gate", name, gates[k]), typ: typeInt16,
			scales: []float32{float32(math.Ldexp(1, -lite.GateFracBits))}, zps: zeros(1)})
	}
	// TFLite's kernel subtracts the hidden intermediate's zero point where
	// it means to add it (measured: docs/tflite.md, Sequence models), so
	// the intermediate carries the output's zero point negated.
	inter[4] = g.add(fileTensor{name: name + "/hidden", typ: typeInt8, scales: []float32{sh}, zps: []int64{-zh}})
	g.op(fileOp{code: opUniSeqLSTM, version: uslstmVersion, inputs: ins[:], outputs: []int32{seqOut},
		intermediates: inter, optType: optUniSeqLSTM, opts: func(b *builder) uint32 {
			b.StartObject(lstmFields)
			b.PrependInt8Slot(lstmAct, actTanh, 0)
			b.PrependFloat32Slot(lstmCellClip, 0, 0)
			b.PrependFloat32Slot(lstmProjClip, 0, 0)
			b.PrependBoolSlot(lstmTimeMajor, false, false)
			return uint32(b.EndObject())
		}})
	if !op.ReturnSequences {
		g.stridedSlice(name+"/last", seqOut, out, []int32{0, int32(t - 1), 0}, []int32{1, int32(t), int32(u)},
			[]int32{1, 1, 1}, 0, 2)
	}
	return nil
}

// stridedSlice appends a STRIDED_SLICE with the given bounds, end_mask
// and shrink_axis_mask.
func (g *graph) stridedSlice(name string, in, out int32, begin, end, strides []int32, endMask, shrink int32) {
	bt := g.int32Const(name+"/begin", begin)
	et := g.int32Const(name+"/end", end)
	st := g.int32Const(name+"/strides", strides)
	g.op(fileOp{code: opStridedSlice, version: opVersions[opStridedSlice], inputs: []int32{in, bt, et, st},
		outputs: []int32{out}, optType: optStridedSlice, opts: func(b *builder) uint32 {
			b.StartObject(ssFields)
			b.PrependInt32Slot(ssEndMask, endMask, 0)
			b.PrependInt32Slot(ssShrinkMask, shrink, 0)
			return uint32(b.EndObject())
		}})
}

// The versions written for the embedding's operators: GATHER of int8
// params, CAST of float32 to int32.
const (
	gatherVersion = 2
	castVersion   = 1
)

// embedding appends an Embedding: a CAST of the float32 indices to int32
// (truncation toward zero) and a GATHER of the int8 table's rows (V, D)
// along axis 0 (docs/tflite.md, Sequence models). The codes are goqat's
// for every whole index in [0, V); goqat gives a row of zeros for any
// other index, where TFLite's GATHER fails (out of range) or truncates (a
// fraction).
func (g *graph) embedding(op *lite.Op, in, out int32) error {
	it := g.tensors[in]
	if it.typ != typeFloat32 {
		return fmt.Errorf("Embedding indices must be float32")
	}
	if op.WeightBits > 8 {
		return fmt.Errorf("%d-bit Embedding table (TFLite's are int8)", op.WeightBits)
	}
	idx := g.add(fileTensor{name: op.Name + "/indices", shape: it.shape, typ: typeInt32})
	g.op(fileOp{code: opCast, version: castVersion, inputs: []int32{in}, outputs: []int32{idx},
		optType: optCast, opts: func(b *builder) uint32 {
			b.StartObject(castFields)
			b.PrependInt8Slot(castInType, typeFloat32, 0)
			b.PrependInt8Slot(castOutType, typeInt32, 0)
			return uint32(b.EndObject())
		}})
	ws := op.WeightShape
	table := g.constant(op.Name+"/table", typeInt8, []int32{int32(ws[0]), int32(ws[1])}, int8Bytes(op.Weights),
		[]float32{op.WeightScales[0]}, []int64{0}, 0)
	g.op(fileOp{code: opGather, version: gatherVersion, inputs: []int32{table, idx}, outputs: []int32{out},
		optType: optGather, opts: func(b *builder) uint32 {
			b.StartObject(gatherFields)
			b.PrependInt32Slot(gatherAxis, 0, 0)
			return uint32(b.EndObject())
		}})
	return nil
}
