package lite

import (
	"errors"
	"fmt"
	"github.com/goqat/goqat/internal/ops"
	"math"

	"github.com/goqat/goqat/internal/bounds"
)

// OpEmbedding gathers rows of an int8 table (docs/DESIGN.md, Sequence
// layers): its input is the model's float32 tensor of indices (any
// shape S), its output the int8 rows (S..., D) at the table's scale with
// zero point 0 (no requantization: the codes are copied). The table is
// WeightShape (V, D), symmetric narrow range, one scale (per tensor). An
// index that is not a whole number in [0, V) gives a row of zeros (as
// nn.Embedding); an Embedding with MaskZero is converted with row 0 all
// zeros.
const OpEmbedding OpType = "Embedding"

// checkEmbedding checks an Embedding op: the float32 input (checkOp), the
// table, its one scale, and the output's shape and quantization (the
// table's scale, zero point 0, at least the table's bits).
func checkEmbedding(op *Op, in, out *Tensor) error {
	if op.Activation != "" {
		return fmt.Errorf("fused activation %q on an Embedding", op.Activation)
	}
	if op.Bias != nil {
		return errors.New("bias on an Embedding")
	}
	if op.WeightBits < 2 || op.WeightBits > 8 {
		return fmt.Errorf("%d weight bits (want 2..8)", op.WeightBits)
	}
	ws := op.WeightShape
	if len(ws) != 2 {
		return fmt.Errorf("table shape %v, want (indices, dim)", ws)
	}
	if _, err := bounds.Values(ws); err != nil {
		return fmt.Errorf("table %w", err)
	}
	if len(op.Weights) != ws.Size() {
		return fmt.Errorf("%d weights for table shape %v", len(op.Weights), ws)
	}
	if len(op.WeightScales) != 1 {
		return fmt.Errorf("%d table scales, want 1 (per tensor)", len(op.WeightScales))
	}
	if s := op.WeightScales[0]; !(s > 0) || math.IsInf(float64(s), 0) || s < 1e-30 {
		return fmt.Errorf("table scale %v must be positive and finite", s)
	}
	lim := int8(1<<(op.WeightBits-1) - 1)
	for _, w := range op.Weights {
		if w < -lim || w > lim {
			return fmt.Errorf("table value %d outside the %d-bit narrow range [%d, %d]", w, op.WeightBits, -lim, lim)
		}
	}
	if len(out.Shape) != len(in.Shape)+1 || !out.Shape[:len(in.Shape)].Equal(in.Shape) || out.Shape[len(in.Shape)] != ws[1] {
		return fmt.Errorf("output shape %v, but the op computes %v", out.Shape, append(in.Shape.Clone(), ws[1]))
	}
	if out.Scale != op.WeightScales[0] || out.ZeroPoint != 0 || out.Bits < op.WeightBits {
		return fmt.Errorf("output scale %v, zero point %d, %d bits: want the table's scale %v, zero point 0, at least %d bits",
			out.Scale, out.ZeroPoint, out.Bits, op.WeightScales[0], op.WeightBits)
	}
	return nil
}

// embeddingKernel is OpEmbedding: a row copy per index.
// x (N, S...) float32 indices -> (N, S..., D) int8
type embeddingKernel struct {
	it      *Interpreter
	in, out int
	size    int // indices per sample
	v, d    int
	table   []int8
}

func newEmbedding(it *Interpreter, op *Op) *embeddingKernel {
	return &embeddingKernel{it: it, in: op.Inputs[0], out: op.Output, size: it.size(op.Inputs[0]),
		v: op.WeightShape[0], d: op.WeightShape[1], table: op.Weights}
}

func (k *embeddingKernel) alloc(int) {}

// run copies the row of every index, zeros for an index that is not a
// whole number in [0, V).
func (k *embeddingKernel) run(n int) {
	x, y, d := k.it.f32[k.in][:n*k.size], k.it.i8[k.out], k.d
	for p, v := range x {
		o := y[p*d : (p+1)*d]
		if i, ok := ops.EmbeddingRow(v, k.v); ok {
			copy(o, k.table[i*d:(i+1)*d])
		} else {
			clear(o)
		}
	}
}
