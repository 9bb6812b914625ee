package lite

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// embeddingModel is a valid model: float32 indices (t) -> Embedding of a
// table (v, d) of bits-bit codes -> Dequantize.
func embeddingModel(t, v, d, bits int) *Model {
	w := make([]int8, v*d)
	lim := 1<<(bits-1) - 1
	for i := range w {
		w[i] = int8(i*5%(2*lim+1) - lim)
	}
	out := Tensor{Name: "emb", Shape: []int{t, d}, DType: Int8, Scale: 0.02, Bits: bits}
	return &Model{Name: "embedding",
		Tensors: []Tensor{{Name: "x", Shape: []int{t}, DType: Float32}, out, {Name: "y", Shape: []int{t, d}, DType: Float32}},
		Ops: []Op{
			{Type: OpEmbedding, Name: "emb", Inputs: []int{0}, Output: 1, WeightShape: []int{v, d}, WeightBits: bits,
				WeightScales: []float32{0.02}, Weights: w},
			{Type: OpDequantize, Name: "y", Inputs: []int{1}, Output: 2},
		},
		Inputs: []int{0}, Outputs: []int{2}}
}

// TestEmbeddingOp runs the op on valid and hostile indices, also after a
// save/load round trip (4- and 8-bit tables), against the rows written
// out: a whole number in [0, V) selects its row, anything else zeros.
func TestEmbeddingOp(t *testing.T) {
	const steps, v, d = 7, 5, 3
	xs := []float32{0, 4, 2, -1, 5, 1.5, float32(math.NaN()), 3, float32(math.Inf(1)), -0.0, 1e20, 4.999, 1, float32(math.Inf(-1))}
	for _, bits := range []int{8, 4} {
		m := embeddingModel(steps, v, d, bits)
		f, err := encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, f); err != nil {
			t.Fatal(err)
		}
		lm, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, mm := range []*Model{m, lm} {
			it, err := NewInterpreter(mm)
			if err != nil {
				t.Fatal(err)
			}
			x := tensor.New(2, steps)
			copy(x.Data, xs)
			if err := it.SetInput(0, x); err != nil {
				t.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			got := it.OutputInt8(0).Data
			for p, iv := range xs {
				row := make([]int8, d)
				if iv >= 0 && iv < v && iv == float32(int(iv)) {
					copy(row, m.Ops[0].Weights[int(iv)*d:])
				}
				for j := range d {
					if got[p*d+j] != row[j] {
						t.Fatalf("%d bits: index %v: row %v, want %v", bits, iv, got[p*d:(p+1)*d], row)
					}
				}
			}
		}
	}
}

// TestEmbeddingBadMetadata checks that Validate, Write and Read refuse
// Embedding ops whose description does not hold, with one-line errors.
func TestEmbeddingBadMetadata(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"int8 input", func(m *Model) { m.Tensors[0].DType, m.Tensors[0].Scale, m.Tensors[0].Bits = Int8, 1, 8 }, "input 0 is int8, want float32"},
		{"table rank", func(m *Model) { m.Ops[0].WeightShape = []int{5, 3, 1} }, "table shape"},
		{"table size", func(m *Model) { m.Ops[0].Weights = m.Ops[0].Weights[:14] }, "14 weights for table shape"},
		{"huge table", func(m *Model) { m.Ops[0].WeightShape = []int{1 << 40, 3} }, "table"},
		{"two scales", func(m *Model) { m.Ops[0].WeightScales = []float32{0.02, 0.02} }, "2 table scales, want 1"},
		{"bad scale", func(m *Model) { m.Ops[0].WeightScales = []float32{-0.5} }, "table scale"},
		{"weight range", func(m *Model) { m.Ops[0].Weights[3] = -128 }, "outside the 8-bit narrow range"},
		{"weight bits", func(m *Model) { m.Ops[0].WeightBits = 9 }, "9 weight bits"},
		{"output dim", func(m *Model) { m.Tensors[1].Shape = []int{7, 4}; m.Tensors[2].Shape = []int{7, 4} }, "output shape (7, 4), but the op computes (7, 3)"},
		{"output steps", func(m *Model) { m.Tensors[1].Shape = []int{6, 3}; m.Tensors[2].Shape = []int{6, 3} }, "output shape (6, 3), but the op computes (7, 3)"},
		{"output scale", func(m *Model) { m.Tensors[1].Scale = 0.03 }, "want the table's scale"},
		{"zero point", func(m *Model) { m.Tensors[1].ZeroPoint = 2 }, "zero point 2"},
		{"output bits", func(m *Model) { m.Tensors[1].Bits = 4 }, "at least 8 bits"},
		{"bias", func(m *Model) { m.Ops[0].Bias = []int32{1, 2, 3} }, "bias on an Embedding"},
		{"activation", func(m *Model) { m.Ops[0].Activation = "relu" }, "fused activation"},
		{"lstm attribute", func(m *Model) { m.Ops[0].ReturnSequences = true }, "LSTM attributes"},
	} {
		m := embeddingModel(7, 5, 3, 8)
		c.edit(m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Validate: %v, want %q", c.name, err, c.want)
		}
		// The same description read from a file (written unchecked).
		meta, err := encodeUnchecked(m)
		if err != nil {
			t.Fatal(err)
		}
		f := &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{}}
		if n := len(m.Ops[0].Weights); m.Ops[0].WeightBits == 8 {
			f.Tensors[weightsName(0)] = safetensors.I8([]int{n}, m.Ops[0].Weights)
		}
		if m.Ops[0].Bias != nil {
			f.Tensors[biasName(0)] = safetensors.I32([]int{len(m.Ops[0].Bias)}, m.Ops[0].Bias)
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, f); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Read: %v", c.name, err)
		}
	}
}
