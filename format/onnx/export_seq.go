package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
	"google.golang.org/protobuf/proto"
)

// The sequence layers in ExportFloat (docs/onnx.md, Sequence layers). A
// sequence stays in goqat's layout, (N, T, F), between layers: Conv1D and
// MaxPooling1D transpose to ONNX's (N, C, T) and back around their node,
// the recurrent layers to ONNX's time-major (T, N, F) (opset 13 has no
// batch-first layout) and back. Keras's gate order is mapped to ONNX's:
//
//	LSTM       Keras i, f, c, o   ONNX i, o, f, c
//	GRU        Keras z, r, h      ONNX z, r, h  (reset after: linear_before_reset = 1)
//	SimpleRNN  one gate           ONNX RNN (tanh)
//
// ONNX's recurrent ops carry an input bias and a recurrent bias: goqat's
// LSTM and SimpleRNN bias is the input one (the recurrent one zero), the
// GRU's two biases are the two. GoBackwards is direction "reverse", whose
// outputs ONNX keeps in input order: Keras returns them in the order
// processed, so the sequence is reversed again after the node.
// Bidirectional is direction "bidirectional", the forward features first
// as in Keras's concat. Masking (a step of zeros leaves the state as it
// is) has no ONNX form and is refused.

// sequenceLayer emits the nodes of a sequence layer; ok is false for a
// layer that is not one.
func (e *floatExporter) sequenceLayer(l nn.Layer, x string, xs tensor.Shape, out string) (y string, ok bool, err error) {
	name, b := l.Name(), e.b
	switch v := l.(type) {
	case *nn.Embedding:
		if len(xs) != 1 {
			return "", true, fmt.Errorf("input shape %v, want (T)", xs)
		}
		table := v.Embeddings.Value.Data
		if v.MaskZero { // index 0 maps to zeros
			table = append([]float32(nil), table...)
			clear(table[:v.OutputDim])
		}
		idx := b.op("Cast", name+"/indices", []string{x}, attrInt("to", int64(onnxpb.TensorProto_INT64)))
		t := b.floats(name+"/embeddings", []int{v.InputDim, v.OutputDim}, table)
		return b.node("Gather", name, []string{t, idx}, []string{b.unique(out)}, attrInt("axis", 0)), true, nil
	case *nn.Conv1D:
		if len(xs) != 2 {
			return "", true, fmt.Errorf("input shape %v, want (T, C)", xs)
		}
		k := v.Kernel.Value // (K, C, F)
		kk, c, f := k.Shape[0], k.Shape[1], k.Shape[2]
		w := make([]float32, len(k.Data))
		for t := 0; t < kk; t++ {
			for ci := 0; ci < c; ci++ {
				for fi := 0; fi < f; fi++ {
					w[(fi*c+ci)*kk+t] = k.Data[(t*c+ci)*f+fi]
				}
			}
		}
		stride, dil := max(v.Strides, 1), max(v.DilationRate, 1)
		padL, padR := pads1D(xs[0], kk, stride, dil, v.Padding)
		ncw := b.op("Transpose", name+"/nct", []string{x}, attrInts("perm", 0, 2, 1))
		cin := []string{ncw, b.floats(name+"/kernel", []int{f, c, kk}, w)}
		if v.Bias != nil {
			cin = append(cin, b.floats(name+"/bias", []int{f}, v.Bias.Value.Data))
		}
		conv := b.op("Conv", name+"/conv", cin, attrInts("kernel_shape", int64(kk)), attrInts("strides", int64(stride)),
			attrInts("pads", int64(padL), int64(padR)), attrInts("dilations", int64(dil)))
		return b.node("Transpose", name, []string{conv}, []string{b.unique(out)}, attrInts("perm", 0, 2, 1)), true, nil
	case *nn.MaxPooling1D:
		if len(xs) != 2 {
			return "", true, fmt.Errorf("input shape %v, want (T, C)", xs)
		}
		stride := max(v.Strides, 1)
		padL, padR := pads1D(xs[0], v.PoolSize, stride, 1, v.Padding)
		ncw := b.op("Transpose", name+"/nct", []string{x}, attrInts("perm", 0, 2, 1))
		pool := b.op("MaxPool", name+"/pool", []string{ncw}, attrInts("kernel_shape", int64(v.PoolSize)),
			attrInts("strides", int64(stride)), attrInts("pads", int64(padL), int64(padR)))
		return b.node("Transpose", name, []string{pool}, []string{b.unique(out)}, attrInts("perm", 0, 2, 1)), true, nil
	case *nn.GlobalAveragePooling1D:
		if len(xs) != 2 {
			return "", true, fmt.Errorf("input shape %v, want (T, C)", xs)
		}
		return b.node("ReduceMean", name, []string{x}, []string{b.unique(out)}, attrInts("axes", 1), attrInt("keepdims", 0)), true, nil
	case *nn.LSTM, *nn.GRU, *nn.SimpleRNN:
		d, err := recurrentDirection(l)
		if err != nil {
			return "", true, err
		}
		dir := "forward"
		if d.o.GoBackwards {
			dir = "reverse"
		}
		y, err := e.recurrent(name, out, x, xs, d.kind, d.o, dir, []recurrentDir{d})
		return y, true, err
	case *nn.Bidirectional:
		f, err := recurrentDirection(v.ForwardLayer)
		if err != nil {
			return "", true, err
		}
		bw, err := recurrentDirection(v.BackwardLayer)
		if err != nil {
			return "", true, err
		}
		if f.kind != bw.kind || f.o.GoBackwards || !bw.o.GoBackwards {
			return "", true, errors.New("the backward layer is not the forward one reversed")
		}
		y, err := e.recurrent(name, out, x, xs, f.kind, f.o, "bidirectional", []recurrentDir{f, bw})
		return y, true, err
	}
	return "", false, nil
}

// pads1D returns the padding before and after a sequence of length t for
// a window of k taps dil apart at stride s (nn's Conv1D and MaxPooling1D
// rules: "same" splits the padding, the extra cell at the end; "causal"
// pads only before).
func pads1D(t, k, s, dil int, padding string) (before, after int) {
	span := (k-1)*dil + 1
	switch padding {
	case "same":
		ot := (t + s - 1) / s
		total := max((ot-1)*s+span-t, 0)
		return total / 2, total - total/2
	case "causal":
		return span - 1, 0
	}
	return 0, 0
}

// recurrentDir is one direction of a recurrent layer: its weights in
// goqat's layout and the map from ONNX's gate order to Keras's.
type recurrentDir struct {
	kind       string // "LSTM", "GRU" or "RNN"
	o          nn.RecurrentOptions
	kernel     []float32 // (F, G*U)
	recKernel  []float32 // (U, G*U)
	inBias     []float32 // (G*U) or nil
	recBias    []float32 // (G*U) or nil
	gates      int
	kerasOrder []int // ONNX gate g is Keras gate kerasOrder[g]
}

// recurrentDirection reads a recurrent layer's weights, refusing what ONNX
// cannot express.
func recurrentDirection(l nn.Layer) (recurrentDir, error) {
	var d recurrentDir
	switch v := l.(type) {
	case *nn.LSTM:
		d = recurrentDir{kind: "LSTM", o: v.RecurrentOptions, kernel: v.Kernel.Value.Data, recKernel: v.RecurrentKernel.Value.Data,
			gates: 4, kerasOrder: []int{0, 3, 1, 2}}
		if v.Bias != nil {
			d.inBias = v.Bias.Value.Data
		}
	case *nn.GRU:
		d = recurrentDir{kind: "GRU", o: v.RecurrentOptions, kernel: v.Kernel.Value.Data, recKernel: v.RecurrentKernel.Value.Data,
			gates: 3, kerasOrder: []int{0, 1, 2}}
		if v.Bias != nil {
			g := len(v.Bias.Value.Data) / 2
			d.inBias, d.recBias = v.Bias.Value.Data[:g], v.Bias.Value.Data[g:]
		}
	case *nn.SimpleRNN:
		d = recurrentDir{kind: "RNN", o: v.RecurrentOptions, kernel: v.Kernel.Value.Data, recKernel: v.RecurrentKernel.Value.Data,
			gates: 1, kerasOrder: []int{0}}
		if v.Bias != nil {
			d.inBias = v.Bias.Value.Data
		}
	default:
		return d, fmt.Errorf("%s is not a recurrent layer", l.Type())
	}
	if d.o.Masking {
		return d, errors.New("masking (a step of zeros keeps the state) has no ONNX form; export the model without it")
	}
	return d, nil
}

// recurrent emits an ONNX LSTM, GRU or RNN node over the input sequence
// x, (N, T, F), and the nodes that bring its result to goqat's layout:
// (N, T, D*U) with ReturnSequences, else (N, D*U), D the directions.
func (e *floatExporter) recurrent(name, out, x string, xs tensor.Shape, kind string, o nn.RecurrentOptions, dir string, ds []recurrentDir) (string, error) {
	if len(xs) != 2 {
		return "", fmt.Errorf("input shape %v, want (T, F)", xs)
	}
	b := e.b
	t, f, u := xs[0], xs[1], o.Units
	g := ds[0].gates
	nd := len(ds)
	w := make([]float32, nd*g*u*f)
	r := make([]float32, nd*g*u*u)
	bias := make([]float32, nd*2*g*u)
	for di, d := range ds {
		for og, kg := range d.kerasOrder {
			for j := 0; j < u; j++ {
				row := (di*g+og)*u + j // ONNX row of the direction's stacked gates
				col := kg*u + j        // goqat column
				for k := 0; k < f; k++ {
					w[row*f+k] = d.kernel[k*g*u+col]
				}
				for k := 0; k < u; k++ {
					r[row*u+k] = d.recKernel[k*g*u+col]
				}
				if d.inBias != nil {
					bias[di*2*g*u+og*u+j] = d.inBias[col]
				}
				if d.recBias != nil {
					bias[di*2*g*u+g*u+og*u+j] = d.recBias[col]
				}
			}
		}
	}
	tnf := b.op("Transpose", name+"/tnf", []string{x}, attrInts("perm", 1, 0, 2))
	ins := []string{tnf,
		b.floats(name+"/W", []int{nd, g * u, f}, w),
		b.floats(name+"/R", []int{nd, g * u, u}, r),
		b.floats(name+"/B", []int{nd, 2 * g * u}, bias)}
	at := []*onnxpb.AttributeProto{attrInt("hidden_size", int64(u)), attrStr("direction", dir)}
	if kind == "GRU" {
		at = append(at, attrInt("linear_before_reset", 1))
	}
	yAll, yLast := b.unique(name+"/Y"), b.unique(name+"/Y_h")
	b.node(kind, name, ins, []string{yAll, yLast}, at...)
	if !o.ReturnSequences {
		// Y_h (D, N, U) -> (N, D, U) -> (N, D*U)
		nd := b.op("Transpose", name+"/ndu", []string{yLast}, attrInts("perm", 1, 0, 2))
		shape := b.int64s(name+"/last_shape", []int{2}, []int64{0, -1})
		return b.node("Reshape", name+"/last", []string{nd, shape}, []string{b.unique(out)}), nil
	}
	// Y (T, D, N, U) -> (N, T, D, U) -> (N, T, D*U)
	ntd := b.op("Transpose", name+"/ntdu", []string{yAll}, attrInts("perm", 2, 0, 1, 3))
	shape := b.int64s(name+"/seq_shape", []int{3}, []int64{0, 0, -1})
	if dir != "reverse" {
		return b.node("Reshape", name+"/seq", []string{ntd, shape}, []string{b.unique(out)}), nil
	}
	seq := b.op("Reshape", name+"/seq", []string{ntd, shape})
	// Keras's order: the step processed first (the last input step) first.
	one := []int{1}
	return b.node("Slice", name+"/reverse", []string{seq,
		b.int64s(name+"/starts", one, []int64{int64(t - 1)}),
		b.int64s(name+"/ends", one, []int64{math.MinInt64}),
		b.int64s(name+"/axes", one, []int64{1}),
		b.int64s(name+"/steps", one, []int64{-1})}, []string{b.unique(out)}), nil
}

func attrStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}
