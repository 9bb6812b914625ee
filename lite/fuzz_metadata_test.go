package lite

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// graphModel is a small valid model with a float input and output through
// every op family with a window or a shape: Pad, MaxPool, a depthwise
// convolution with a depth multiplier, a dilated grouped convolution, an
// AveragePool, the global pools, Concatenation, a lookup table, a fully
// connected layer and Softmax.
func graphModel() *Model {
	t := func(name string, shape ...int) Tensor { return i8t(name, 0.5, 3, shape...) }
	weights := func(n, bits int) []int8 {
		w := make([]int8, n)
		lim := 1<<(bits-1) - 1
		for i := range w {
			w[i] = int8(i*7%(2*lim+1) - lim)
		}
		return w
	}
	return &Model{Name: "graph",
		Tensors: []Tensor{
			{Name: "x", Shape: []int{6, 6, 2}, DType: Float32}, t("q", 6, 6, 2), t("pad", 7, 9, 2), t("mp", 7, 4, 2),
			t("dw", 7, 4, 4), t("conv", 7, 4, 4), t("ap", 4, 2, 4), t("gap", 4), t("gmp", 4), t("cat", 8),
			i8t("sig", 1.0/256, -128, 8), t("fc", 3), i8t("sm", 1.0/256, -128, 3), {Name: "y", Shape: []int{3}, DType: Float32}},
		Ops: []Op{
			{Type: OpQuantize, Name: "q", Inputs: []int{0}, Output: 1},
			{Type: OpPad, Name: "pad", Inputs: []int{1}, Output: 2, Pad: [4]int{1, 0, 1, 2}},
			{Type: OpMaxPool, Name: "mp", Inputs: []int{2}, Output: 3, Kernel: [2]int{2, 2}, Strides: [2]int{1, 2}, Pad: [4]int{0, 1, 0, 0}},
			{Type: OpDepthwiseConv2D, Name: "dw", Inputs: []int{3}, Output: 4, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1}, Pad: [4]int{1, 1, 1, 1},
				DepthMultiplier: 2, WeightShape: []int{3, 3, 4}, WeightBits: 8, WeightScales: []float32{0.1, 0.2, 0.1, 0.3}, Weights: weights(36, 8),
				Bias: []int32{1, -2, 3, 4}, Activation: "relu"},
			{Type: OpConv2D, Name: "conv", Inputs: []int{4}, Output: 5, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1}, Pad: [4]int{2, 2, 2, 2},
				Dilation: [2]int{2, 2}, Groups: 2, WeightShape: []int{3, 3, 2, 4}, WeightBits: 4, WeightScales: []float32{0.05}, Weights: weights(72, 4)},
			{Type: OpAveragePool, Name: "ap", Inputs: []int{5}, Output: 6, Kernel: [2]int{3, 3}, Strides: [2]int{2, 2}, Pad: [4]int{1, 1, 1, 1}},
			{Type: OpGlobalAveragePool, Name: "gap", Inputs: []int{6}, Output: 7},
			{Type: OpGlobalMaxPool, Name: "gmp", Inputs: []int{6}, Output: 8},
			{Type: OpConcatenation, Name: "cat", Inputs: []int{7, 8}, Output: 9},
			{Type: OpLogistic, Name: "sig", Inputs: []int{9}, Output: 10},
			{Type: OpFullyConnected, Name: "fc", Inputs: []int{10}, Output: 11, WeightShape: []int{8, 3}, WeightBits: 8,
				WeightScales: []float32{0.02, 0.01, 0.03}, Weights: weights(24, 8), Bias: []int32{10, 0, -10}},
			{Type: OpSoftmax, Name: "sm", Inputs: []int{11}, Output: 12},
			{Type: OpDequantize, Name: "y", Inputs: []int{12}, Output: 13},
		},
		Inputs: []int{0}, Outputs: []int{13}}
}

// liteNumber matches a number of the compact header JSON (after '[', ','
// or ':'): the values FuzzModelMetadata sets.
var liteNumber = regexp.MustCompile(`([\[,:])(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)`)

// setNumber replaces the k-th number of header (modulo their count) by v.
func setNumber(header string, k int, v int64) string {
	locs := liteNumber.FindAllStringSubmatchIndex(header, -1)
	if len(locs) == 0 {
		return header
	}
	l := locs[k%len(locs)]
	return header[:l[4]] + strconv.FormatInt(v, 10) + header[l[5]:]
}

// fittedFile returns a file holding header as its metadata and, for each
// op whose weight shape and bits are sound (at most 2^16 weights), weights
// and a bias of that shape, so that a mutation of a window, a pad or a
// shape reaches Validate, the plan and the run rather than stopping at the
// tensors' check.
func fittedFile(header string) *safetensors.File {
	f := &safetensors.File{Metadata: map[string]string{MetadataKey: header}, Tensors: map[string]safetensors.Tensor{}}
	var hdr fileHeader
	if json.Unmarshal([]byte(header), &hdr) != nil || hdr.Model == nil {
		return f
	}
	for k := range hdr.Model.Ops {
		op := &hdr.Model.Ops[k]
		n, err := bounds.Values(op.WeightShape)
		if !op.Type.hasWeights() || err != nil || n > 1<<16 || op.WeightBits < 2 || op.WeightBits > 8 {
			continue
		}
		w := make([]int8, n)
		for i := range w {
			w[i] = int8(i%3 - 1)
		}
		if op.WeightBits == 8 {
			f.Tensors[weightsName(k)] = safetensors.I8([]int{n}, w)
		} else {
			p := packBits(w, op.WeightBits)
			f.Tensors[weightsName(k)] = safetensors.U8([]int{len(p)}, p)
		}
		if op.Type == OpEmbedding {
			continue // no bias
		}
		oc := op.WeightShape[len(op.WeightShape)-1]
		if op.Type == OpGRU {
			oc *= 2 // input and recurrent biases
		}
		f.Tensors[biasName(k)] = safetensors.I32([]int{oc}, make([]int32, oc))
	}
	return f
}

// FuzzModelMetadata mutates the description of small valid integer models:
// the fuzzer picks a seed model and sets up to three numbers of its JSON
// header (any number: shapes, windows, strides, pads, dilations, groups,
// depth multipliers, weight shapes and bits, quantization parameters,
// tensor indices) to any int64, so that every input is well-formed JSON
// that reaches Validate. The weights are made to fit, and the file is read
// with limits proportional to its size and its input's
// (docs/RELIABILITY.md, Resource bounds): nothing panics, every error is
// one line, and a model that loads runs one Invoke (batch 1) whose
// allocations, from NewInterpreter on, stay within its plan, itself within
// the limits. (FuzzLoad mutates the bytes of whole files.)
func FuzzModelMetadata(f *testing.F) {
	var seeds []string
	lstm := lstmModel(lstmCase{t: 4, f: 3, u: 5, bits: 8, e: -11, seq: true, bias: true}, rand.New(rand.NewPCG(1, 1)))
	rnn := lstmModel(lstmCase{t: 3, f: 2, u: 4, bits: 4, back: true, bias: true, rnn: true}, rand.New(rand.NewPCG(1, 2)))
	gru := lstmModel(lstmCase{t: 3, f: 2, u: 3, bits: 8, seq: true, bias: true, gru: true}, rand.New(rand.NewPCG(1, 3)))
	masked := lstmModel(lstmCase{t: 4, f: 2, u: 3, bits: 8, e: -12, seq: true, bias: true}, rand.New(rand.NewPCG(1, 4)))
	masked.Ops[0].Masking = true
	// A Bidirectional merge (forward, backward and the mask input).
	bidi := &Model{Name: "bidi", Tensors: []Tensor{i8t("f", 0.02, 1, 4, 3), i8t("b", 0.02, 1, 4, 3), i8t("x", 0.1, 0, 4, 2), i8t("y", 0.02, 1, 4, 6)},
		Inputs: []int{0, 1, 2}, Outputs: []int{3}, Ops: []Op{{Type: OpBidirectionalConcat, Inputs: []int{0, 1, 2}, Output: 3}}}
	for _, m := range []*Model{tinyModel(8), tinyModel(4), graphModel(), lstm, rnn, gru, embeddingModel(6, 9, 4, 8), embeddingModel(3, 4, 5, 3), masked, bidi} {
		meta, err := encodeUnchecked(m)
		if err != nil {
			f.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, meta[MetadataKey])
		f.Add(uint8(len(seeds)-1), uint16(0), int64(0), uint16(0), int64(0), uint16(0), int64(0))
	}
	oldM, oldW := bounds.MaxMemory(), bounds.MaxWork()
	f.Cleanup(func() { bounds.SetMaxMemory(oldM); bounds.SetMaxWork(oldW) })
	f.Fuzz(func(t *testing.T, seed uint8, k1 uint16, v1 int64, k2 uint16, v2 int64, k3 uint16, v3 int64) {
		header := seeds[int(seed)%len(seeds)]
		for _, e := range [...]struct {
			k uint16
			v int64
		}{{k1, v1}, {k2, v2}, {k3, v3}} {
			if e.k > 0 { // 0: no edit
				header = setNumber(header, int(e.k-1), e.v)
			}
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, fittedFile(header)); err != nil {
			t.Fatal(err)
		}
		// The limits: proportional to the file's and the input's sizes
		// (the inputs as the header states them, bounded first).
		inValues := int64(0)
		var hdr fileHeader
		if json.Unmarshal([]byte(header), &hdr) != nil || hdr.Model == nil {
			hdr.Model = &Model{} // Read refuses it below
		}
		for _, i := range hdr.Model.Inputs {
			if i >= 0 && i < len(hdr.Model.Tensors) {
				if n, err := bounds.Values(hdr.Model.Tensors[i].Shape); err == nil {
					inValues += int64(n)
				}
			}
		}
		size := int64(buf.Len()) + 4*inValues
		bounds.SetMaxMemory(1<<20 + 1024*size)
		bounds.SetMaxWork(1<<20 + 4096*size)
		m, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		plan := m.resources(false)
		if plan.Work > bounds.MaxWork() || plan.Bytes(1) > bounds.MaxMemory() {
			t.Fatalf("loaded a model planned over the limits: %d operations, %d bytes", plan.Work, plan.Bytes(1))
		}
		r := rand.New(rand.NewPCG(uint64(k1), uint64(v1)))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		it, err := NewInterpreter(m)
		if err != nil {
			t.Fatalf("a model that loads must run: %v", err)
		}
		for i, idx := range m.Inputs {
			tt := &m.Tensors[idx]
			if tt.DType == Float32 {
				x := tensor.New(append(tensor.Shape{1}, tt.Shape...)...)
				for j := range x.Data {
					x.Data[j] = r.Float32()*8 - 4
				}
				err = it.SetInput(i, x)
			} else {
				x := &tensor.Int8{Shape: append(tensor.Shape{1}, tt.Shape...), Data: make([]int8, tt.Shape.Size())}
				lo, hi := tt.QRange()
				for j := range x.Data {
					x.Data[j] = int8(lo + r.Int32N(hi-lo+1))
				}
				err = it.SetInputInt8(i, x)
			}
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
		}
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		for i := range m.Outputs {
			_ = it.Output(i)
		}
		runtime.ReadMemStats(&after)
		if alloc, planned := int64(after.TotalAlloc-before.TotalAlloc), plan.Bytes(1); alloc > planned+64<<10 {
			t.Errorf("NewInterpreter and one Invoke allocated %d bytes, the plan %d (model %s)", alloc, planned, header)
		}
	})
}
