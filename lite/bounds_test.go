package lite

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// Regression tests of the resource bounds (docs/RELIABILITY.md, Resource
// bounds): every case is a model crafted here, written to a file without
// validation (as a hostile file would hold it) and read back.

// withLimits sets the process's memory and work limits for one test and
// restores them after it (n < 1 leaves a limit as it is).
func withLimits(t *testing.T, memory, work int64) {
	t.Helper()
	oldM, oldW := bounds.MaxMemory(), bounds.MaxWork()
	t.Cleanup(func() { bounds.SetMaxMemory(oldM); bounds.SetMaxWork(oldW) })
	if memory > 0 {
		bounds.SetMaxMemory(memory)
	}
	if work > 0 {
		bounds.SetMaxWork(work)
	}
}

// oneOp is a full-integer model of one op on an int8 input of shape in,
// whose output of shape out is the model's output.
func oneOp(op Op, in, out []int) *Model {
	op.Name, op.Inputs, op.Output = "op", []int{0}, 1
	return &Model{Name: "crafted", Tensors: []Tensor{i8t("x", 0.5, 3, in...), i8t("op", 0.5, 3, out...)},
		Ops: []Op{op}, Inputs: []int{0}, Outputs: []int{1}}
}

// written returns m as the bytes of a model file, unvalidated.
func written(t *testing.T, m *Model) []byte {
	t.Helper()
	meta, err := encodeUnchecked(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, &safetensors.File{Metadata: meta, Tensors: map[string]safetensors.Tensor{}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantRefused reads m from a file and checks that it is refused with a
// one-line error containing want, as are Validate (if validate) and
// NewInterpreter.
func wantRefused(t *testing.T, name string, m *Model, want string, validate bool) {
	t.Helper()
	data := written(t, m)
	_, err := Read(bytes.NewReader(data), int64(len(data)))
	switch {
	case err == nil:
		t.Errorf("%s: read, want an error with %q", name, want)
	case !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n"):
		t.Errorf("%s: %q, want one line with %q", name, err, want)
	}
	if err := m.Validate(); validate && err == nil {
		t.Errorf("%s: Validate accepted it", name)
	}
	if _, err := NewInterpreter(m); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: NewInterpreter: %v, want an error with %q", name, err, want)
	}
}

// Class 1: an int8 Pad whose pads are near 2^63 wrapped in + pad0 + pad1
// to a small shape that Validate accepted, and Invoke (goqat eval, bench)
// panicked with "slice bounds out of range"; export wrote the pads into
// ONNX. Shapes whose sizes overflow are refused too.
func TestValidateRefusesOverflowingShapes(t *testing.T) {
	const big = math.MaxInt64
	// 4 + (2^63-1) + (2^63-1) wraps to 2.
	wantRefused(t, "Pad near 2^63", oneOp(Op{Type: OpPad, Pad: [4]int{big, big, 0, 0}}, []int{4, 4, 1}, []int{2, 4, 1}), "bad padding", true)
	wantRefused(t, "Pad 2^31", oneOp(Op{Type: OpPad, Pad: [4]int{1 << 31, 0, 0, 0}}, []int{4, 4, 1}, []int{1<<31 + 4, 4, 1}), "values", true)
	// 2^33 x 2^33 x 4 values wrap to 0.
	wantRefused(t, "tensor 2^33 x 2^33 x 4", oneOp(Op{Type: OpLogistic}, []int{1 << 33, 1 << 33, 4}, []int{1 << 33, 1 << 33, 4}), "more than 268435456 values", true)
	wantRefused(t, "strides near 2^63", oneOp(Op{Type: OpMaxPool, Kernel: [2]int{2, 2}, Strides: [2]int{big, 1}}, []int{4, 4, 1}, []int{1, 3, 1}), "bad window", true)
	// A kernel of (2^33, 2^33, 1, 1) weights has 0 values once wrapped.
	fc := oneOp(Op{Type: OpFullyConnected, WeightShape: []int{1 << 33, 1 << 33}, WeightBits: 8, WeightScales: []float32{1}}, []int{4}, []int{1 << 33})
	wantRefused(t, "weights 2^33 x 2^33", fc, "shape", true)
}

// Class 2: an int8 MaxPool with a huge window looped for hours; the work
// of a model is planned and bounded at load.
func TestLoadRefusesUnboundedWork(t *testing.T) {
	withLimits(t, 0, bounds.DefaultWork)
	// 29 x 29 windows of 2^40 taps, almost all in the padding.
	huge := oneOp(Op{Type: OpMaxPool, Kernel: [2]int{1 << 20, 1 << 20}, Strides: [2]int{1, 1}, Pad: [4]int{1 << 19, 1 << 19, 1 << 19, 1 << 19}},
		[]int{28, 28, 1}, []int{29, 29, 1})
	if err := huge.Validate(); err != nil {
		t.Fatalf("the model is valid, only too slow: %v", err)
	}
	wantRefused(t, "MaxPool 2^20", huge, "operations per sample", false)
	avg := *huge
	avg.Ops = []Op{huge.Ops[0]}
	avg.Ops[0].Type = OpAveragePool
	wantRefused(t, "AveragePool 2^20", &avg, "operations per sample", false)
	wantRefused(t, "MaxPool 2^40", oneOp(Op{Type: OpMaxPool, Kernel: [2]int{1 << 40, 1 << 40}, Strides: [2]int{1, 1}, Pad: [4]int{1 << 39, 1 << 39, 1 << 39, 1 << 39}},
		[]int{28, 28, 1}, []int{29, 29, 1}), "bad window", true)
	// Raising the limit lets the same model load (it is not run).
	withLimits(t, 0, 1<<62)
	data := written(t, huge)
	if _, err := Read(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("with GOQAT_MAX_WORK raised: %v", err)
	}
}

// Class 3: an int8 Pad to 16384x16384 (a 1.5 KB file) asked 64 GB of
// Interpreter.Allocate at batch 256: int8 activations are planned, and a
// batch over the limit is refused before anything is allocated.
func TestAllocatePlansMemory(t *testing.T) {
	m := oneOp(Op{Type: OpPad, Pad: [4]int{8192, 8191, 8192, 8191}}, []int{1, 1, 1}, []int{16384, 16384, 1})
	if got := m.InferenceBytes(256); got < 256<<28 {
		t.Errorf("Pad to 16384x16384: %d bytes planned at batch 256, want at least 64 GB", got)
	}
	withLimits(t, 1<<30, 0)
	wantRefused(t, "Pad to 16384x16384 under 1 GiB", m, "over the limit of 1.0 GiB", false)
	withLimits(t, 8<<30, 0)
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Allocate(256); err == nil || !strings.Contains(err.Error(), "--max-memory") || !strings.Contains(err.Error(), "batch 256") {
		t.Errorf("Allocate(256) of 256 x 1.3 GB: %v, want a refusal", err)
	}
	if b, err := m.InferenceBatch(256); err != nil || b < 4 || b > 6 {
		t.Errorf("InferenceBatch(256) = %d, %v; want 5 (1.3 GB per sample) under 8 GiB", b, err)
	}
}

// Class 3: Accuracy runs in a batch that fits: asked for the whole set at
// once, it allocates about the limit, not the set's size.
func TestAccuracyShrinksBatch(t *testing.T) {
	// 512x512 padded images and their float copy: 1.25 MiB per sample.
	m := oneOp(Op{Type: OpPad, Pad: [4]int{256, 255, 256, 255}}, []int{1, 1, 1}, []int{512, 512, 1})
	x, y := tensor.New(40, 1, 1, 1), tensor.New(40)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range x.Data {
		x.Data[i] = r.Float32()*100 - 50
	}
	want, err := Accuracy(m, x, y, 1)
	if err != nil {
		t.Fatal(err)
	}
	limit := m.InferenceBytes(1) + 5<<20
	withLimits(t, limit, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := Accuracy(m, x, y, 40)
	runtime.ReadMemStats(&after)
	if err != nil || got != want {
		t.Fatalf("Accuracy at a shrunk batch: %v, %v; at batch 1: %v", got, err, want)
	}
	if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > limit {
		t.Errorf("Accuracy of 40 samples (1.25 MiB each) asked at batch 40 allocated %d bytes, over the limit %d: the batch did not shrink", alloc, limit)
	}
	withLimits(t, m.InferenceBytes(1)-1, 0)
	if _, err := Accuracy(m, x, y, 4); err == nil || !strings.Contains(err.Error(), "GOQAT_MAX_MEMORY") {
		t.Errorf("Accuracy over the limit at batch 1: %v", err)
	}
}
