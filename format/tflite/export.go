package tflite

import (
	"errors"
	"fmt"

	"github.com/goqat/goqat/lite"
)

// Options control the export.
type Options struct {
	// FullInteger writes int8 model inputs and outputs: a QUANTIZE that
	// reads a float model input and a DEQUANTIZE that writes a float model
	// output are left out (FullInteger).
	FullInteger bool
}

// Marshal returns m as a .tflite flatbuffer. The model is validated
// first; an op or tensor that TFLite's int8 kernels cannot compute as
// goqat does is an error naming it.
func Marshal(m *lite.Model, opt Options) ([]byte, error) {
	if m == nil {
		return nil, errors.New("tflite: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("tflite: %w", err)
	}
	if opt.FullInteger {
		var err error
		if m, err = FullInteger(m); err != nil {
			return nil, err
		}
	}
	g := newGraph(m)
	for _, i := range m.Inputs {
		k, err := g.tensor(i)
		if err != nil {
			return nil, fmt.Errorf("tflite: %w", err)
		}
		g.inputs = append(g.inputs, k)
	}
	for k := range m.Ops {
		op := &m.Ops[k]
		if err := g.emit(op); err != nil {
			return nil, fmt.Errorf("tflite: op %d (%s %q): %w", k, op.Type, op.Name, err)
		}
	}
	for _, i := range m.Outputs {
		k, err := g.tensor(i)
		if err != nil {
			return nil, fmt.Errorf("tflite: %w", err)
		}
		g.outputs = append(g.outputs, k)
	}
	return g.serialize("goqat " + m.Name), nil
}

// WriteFile writes m as a .tflite file at path, atomically (a temporary
// file in the same folder, renamed).
func WriteFile(path string, m *lite.Model, opt Options) error {
	b, err := Marshal(m, opt)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// FullInteger returns a copy of m whose float model inputs and outputs
// are replaced by the int8 tensors next to them: a Quantize reading a
// model input and a Dequantize writing a model output are removed. A float
// input read only by Embedding ops holds indices and stays float32. A
// model input read by any other op, or a float output not written by a
// Dequantize, is an error. A model that is already int8 at its edges is
// returned unchanged.
func FullInteger(m *lite.Model) (*lite.Model, error) {
	drop := make([]bool, len(m.Ops))
	readers := map[int][]int{}
	writer := map[int]int{}
	for k, op := range m.Ops {
		for _, i := range op.Inputs {
			readers[i] = append(readers[i], k)
		}
		writer[op.Output] = k
	}
	out := *m
	out.Inputs, out.Outputs = nil, nil
	for _, i := range m.Inputs {
		if m.Tensors[i].DType != lite.Float32 {
			out.Inputs = append(out.Inputs, i)
			continue
		}
		rs := readers[i]
		if embeddingIndices(m, rs) {
			out.Inputs = append(out.Inputs, i) // indices, not an activation
			continue
		}
		if len(rs) != 1 || m.Ops[rs[0]].Type != lite.OpQuantize {
			return nil, fmt.Errorf("tflite: float input %q is not read by one Quantize op only", m.Tensors[i].Name)
		}
		drop[rs[0]] = true
		out.Inputs = append(out.Inputs, m.Ops[rs[0]].Output)
	}
	for _, i := range m.Outputs {
		if m.Tensors[i].DType != lite.Float32 {
			out.Outputs = append(out.Outputs, i)
			continue
		}
		w, ok := writer[i]
		if !ok || m.Ops[w].Type != lite.OpDequantize {
			return nil, fmt.Errorf("tflite: float output %q is not written by a Dequantize op", m.Tensors[i].Name)
		}
		drop[w] = true
		out.Outputs = append(out.Outputs, m.Ops[w].Inputs[0])
	}
	out.Ops = nil
	for k, op := range m.Ops {
		if !drop[k] {
			out.Ops = append(out.Ops, op)
		}
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("tflite: full-integer model: %w", err)
	}
	return &out, nil
}

// embeddingIndices reports whether the ops rs (the readers of a model
// input) are all Embedding ops.
func embeddingIndices(m *lite.Model, rs []int) bool {
	for _, k := range rs {
		if m.Ops[k].Type != lite.OpEmbedding {
			return false
		}
	}
	return len(rs) > 0
}
