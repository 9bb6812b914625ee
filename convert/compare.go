package convert

import (
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// LayerReport compares one activation of a QAT model with the integer
// model's: the quantization debugger's row.
type LayerReport struct {
	// Layer is the QAT layer (and integer tensor) name; Op the integer op
	// that computes it.
	Layer string
	Op    lite.OpType
	// SQNR is 10*log10(sum fq^2 / sum (fq - int)^2) in dB between the
	// fake-quant activation and the dequantized integer one (+Inf when
	// they are equal).
	SQNR float64
	// Same, Off1 and OffMore are the shares of values whose integer codes
	// differ by 0, 1 and more than 1 LSB.
	Same, Off1, OffMore float64
}

// Compare runs the QAT model (inference mode) and the integer model im on
// the batch x and reports, for every int8 tensor the ops compute, how the
// integer activations compare with the fake-quant ones. An average pool
// keeps its input's scale and zero point and the integer engine rounds its
// mean to that grid; the QAT model's pool outputs the float mean (its
// linked consumers round it, see quantize.Link), so a pool's codes are
// compared after that rounding and its SQNR measures the rounding.
func Compare(qat *nn.Model, im *lite.Model, x *tensor.Tensor) ([]LayerReport, error) {
	if qat == nil || im == nil || x == nil {
		return nil, errors.New("convert: Compare needs a QAT model, an integer model and a batch")
	}
	if len(qat.InputNames()) != 1 || len(im.Inputs) != 1 {
		return nil, errors.New("convert: Compare supports single-input models")
	}
	acts, err := activations(qat, x)
	if err != nil {
		return nil, err
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		return nil, err
	}
	it.KeepTensors() // every op's output is read below
	if err := it.SetInput(0, x); err != nil {
		return nil, err
	}
	if err := it.Invoke(); err != nil {
		return nil, err
	}
	var out []LayerReport
	for k := range im.Ops {
		op := &im.Ops[k]
		t := &im.Tensors[op.Output]
		fq, ok := acts[t.Name]
		if t.DType != lite.Int8 || !ok || len(fq.Data) != x.Shape[0]*t.Shape.Size() {
			continue
		}
		codes := it.TensorInt8(op.Output, nil).Data
		qmin, qmax := t.QRange()
		count := poolCount(im, op)
		var sig, noise float64
		var same, off1, more int
		for i, v := range fq.Data {
			q := qmath.QuantizeValue(v, t.Scale, t.ZeroPoint, qmin, qmax)
			if count > 1 {
				// The QAT pool's float mean, rounded as the integer pool
				// rounds (and as the linked consumers see it).
				sum := int64(math.RoundToEven(float64(v)/float64(t.Scale)*float64(count))) + int64(count)*int64(t.ZeroPoint)
				q = int32(qmath.DivRoundEven(sum, int64(count)))
			}
			d := q - int32(codes[i])
			switch {
			case d == 0:
				same++
			case d == 1 || d == -1:
				off1++
			default:
				more++
			}
			e := float64(v) - float64(t.Scale)*float64(int32(codes[i])-t.ZeroPoint)
			sig += float64(v) * float64(v)
			noise += e * e
		}
		n := float64(len(fq.Data))
		r := LayerReport{Layer: t.Name, Op: op.Type, SQNR: math.Inf(1), Same: float64(same) / n, Off1: float64(off1) / n, OffMore: float64(more) / n}
		if noise > 0 {
			r.SQNR = 10 * math.Log10(sig/noise)
		}
		out = append(out, r)
	}
	return out, nil
}

// poolCount returns the number of values every output of an average pool
// averages (0 for other ops and for padded pools, whose windows vary).
func poolCount(im *lite.Model, op *lite.Op) int {
	switch op.Type {
	case lite.OpGlobalAveragePool:
		s := im.Tensors[op.Inputs[0]].Shape
		return s[0] * s[1]
	case lite.OpAveragePool:
		if op.Pad == [4]int{} {
			return op.Kernel[0] * op.Kernel[1]
		}
	}
	return 0
}

// activations runs the QAT model layer by layer in inference mode and
// returns a copy of every layer's output by name.
func activations(qat *nn.Model, x *tensor.Tensor) (map[string]*tensor.Tensor, error) {
	acts := map[string]*tensor.Tensor{qat.InputNames()[0]: x}
	ctx := &nn.Context{}
	for _, l := range qat.Layers() {
		var in []*tensor.Tensor
		for _, name := range qat.Inbound(l.Name()) {
			a, ok := acts[name]
			if !ok {
				return nil, fmt.Errorf("convert: layer %q input %q not computed", l.Name(), name)
			}
			in = append(in, a)
		}
		acts[l.Name()] = l.Forward(ctx, in).Clone()
	}
	return acts, nil
}

// FormatReports renders Compare's reports as a table.
func FormatReports(rs []LayerReport) string {
	s := fmt.Sprintf("%-28s %-18s %9s %8s %8s %8s\n", "layer", "op", "SQNR dB", "same", "1 LSB", ">1 LSB")
	for _, r := range rs {
		s += fmt.Sprintf("%-28s %-18s %9.2f %7.3f%% %7.3f%% %7.3f%%\n", r.Layer, r.Op, r.SQNR, 100*r.Same, 100*r.Off1, 100*r.OffMore)
	}
	return s
}
