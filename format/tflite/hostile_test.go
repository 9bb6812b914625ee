package tflite

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// sampleFile returns a small exported model (the hand-made convolutions).
func sampleFile(t testing.TB) []byte {
	t.Helper()
	ms := opModels(rand.New(rand.NewPCG(1, 2)))
	b, err := Marshal(ms["convolutions"], Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readHostile reads b and checks for a one-line error, no panic, and
// that the allocations stay below a bound proportional to the file.
func readHostile(t *testing.T, what string, b []byte, wantErr string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Read(b)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("%s: read without error (%d ops)", what, len(m.Ops))
		return
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: error of several lines: %q", what, err)
	}
	if wantErr != "" && !strings.Contains(err.Error(), wantErr) {
		t.Errorf("%s: error %q, want it to mention %q", what, err, wantErr)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*uint64(len(b))+8<<20 {
		t.Errorf("%s: allocated %d bytes for a file of %d", what, alloc, len(b))
	}
}

// TestReadTruncated reads every prefix of an exported file.
func TestReadTruncated(t *testing.T) {
	b := sampleFile(t)
	step := max(1, len(b)/400)
	for n := 0; n < len(b); n += step {
		if _, err := Read(b[:n]); err == nil {
			t.Fatalf("a file truncated to %d of %d bytes was read", n, len(b))
		} else if strings.Contains(err.Error(), "\n") {
			t.Fatalf("truncated to %d: error of several lines: %q", n, err)
		}
	}
}

// TestReadMutated flips bytes and words of an exported file at random:
// errors or valid models, never a panic.
func TestReadMutated(t *testing.T) {
	b := sampleFile(t)
	r := rand.New(rand.NewPCG(3, 4))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		c := append([]byte(nil), b...)
		for range 1 + r.IntN(4) {
			p := r.IntN(len(c) - 4)
			switch r.IntN(3) {
			case 0:
				c[p] ^= byte(1 << r.IntN(8))
			case 1:
				c[p], c[p+1], c[p+2], c[p+3] = 0xff, 0xff, 0xff, 0x7f
			default:
				c[p] = byte(r.IntN(256))
			}
		}
		if _, err := Read(c); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error of several lines: %q", err)
		}
	}
}

// TestReadHostile reads hand-made hostile files.
func TestReadHostile(t *testing.T) {
	b := sampleFile(t)

	// The root offset past the end.
	c := append([]byte(nil), b...)
	c[0], c[1], c[2], c[3] = 0xf0, 0xff, 0xff, 0x7f
	readHostile(t, "root offset past the end", c, "past the end")

	// Not a TFLite file.
	readHostile(t, "wrong identifier", append([]byte{8, 0, 0, 0, 'O', 'N', 'N', 'X'}, b[8:]...), "identifier")
	readHostile(t, "empty", nil, "too short")

	// A constant whose shape claims more data than its buffer holds.
	g := &graph{buffers: [][]byte{nil}}
	in := g.add(fileTensor{name: "x", shape: []int32{1, 4, 4, 2}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
	w := g.constant("w", typeInt8, []int32{3, 3, 3, 2}, make([]byte, 10), []float32{0.1}, []int64{0}, 0)
	out := g.add(fileTensor{name: "y", shape: []int32{1, 2, 2, 3}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
	g.op(fileOp{code: opConv2D, version: 3, inputs: []int32{in, w, -1}, outputs: []int32{out}})
	g.inputs, g.outputs = []int32{in}, []int32{out}
	readHostile(t, "shape/size lie", g.serialize("lie"), "bytes of data for shape")

	// A 10^9-element activation.
	g = &graph{buffers: [][]byte{nil}}
	in = g.add(fileTensor{name: "x", shape: []int32{1, 1000, 1000, 1000}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
	out = g.add(fileTensor{name: "y", shape: []int32{1, 1000, 1000, 1000}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
	g.op(fileOp{code: opTanh, version: 2, inputs: []int32{in}, outputs: []int32{out}})
	g.inputs, g.outputs = []int32{in}, []int32{out}
	readHostile(t, "10^9-element tensors", g.serialize("huge"), "")

	// Unknown operators and versions.
	for _, tc := range []struct {
		code, version int32
		want          string
	}{{200, 1, "builtin operator 200 is not supported"}, {opConv2D, 99, "CONV_2D version 99 is not supported"},
		{41, 1, "SUB is not supported"}} {
		g = &graph{buffers: [][]byte{nil}}
		in = g.add(fileTensor{name: "x", shape: []int32{1, 4}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
		out = g.add(fileTensor{name: "y", shape: []int32{1, 4}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
		g.op(fileOp{code: tc.code, version: tc.version, inputs: []int32{in}, outputs: []int32{out}})
		g.inputs, g.outputs = []int32{in}, []int32{out}
		readHostile(t, tc.want, g.serialize("unknown"), tc.want)
	}

	// Indices out of range.
	g = &graph{buffers: [][]byte{nil}}
	in = g.add(fileTensor{name: "x", shape: []int32{1, 4}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}, buffer: 7})
	g.inputs, g.outputs = []int32{in}, []int32{in}
	readHostile(t, "buffer index out of range", g.serialize("idx"), "buffer index 7 out of range")
	g = &graph{buffers: [][]byte{nil}}
	in = g.add(fileTensor{name: "x", shape: []int32{1, 4}, typ: typeInt8, scales: []float32{0.1}, zps: []int64{0}})
	g.op(fileOp{code: opTanh, version: 1, inputs: []int32{in}, outputs: []int32{12345}})
	g.inputs, g.outputs = []int32{in}, []int32{in}
	readHostile(t, "tensor index out of range", g.serialize("idx"), "tensor index 12345 out of range")

	readHostile(t, "overlapping tables", overlapping(), "overlapping")

	// A float model (exported, but not imported).
	g = &graph{buffers: [][]byte{nil}}
	in = g.add(fileTensor{name: "x", shape: []int32{1, 4}, typ: typeFloat32})
	out = g.add(fileTensor{name: "y", shape: []int32{1, 4}, typ: typeFloat32})
	g.op(fileOp{code: opTanh, version: 1, inputs: []int32{in}, outputs: []int32{out}})
	g.inputs, g.outputs = []int32{in}, []int32{out}
	readHostile(t, "float model", g.serialize("float"), "float .tflite model")
	readHostile(t, "self-referencing vtable", selfVtable(), "")
}

// overlapping returns a model whose 100,000 operators are one table with
// an inputs vector of 2,000 entries: small, but a walk that read every
// operator would touch 2*10^8 indices.
func overlapping() []byte {
	b := flatbuffers.NewBuilder(1 << 20)
	bb := builder{b}
	ins := make([]int32, 2000)
	iv := bb.int32s(ins)
	ov := bb.int32s([]int32{0})
	b.StartObject(operatorFields)
	bb.offsetSlot(operatorInputs, iv)
	bb.offsetSlot(operatorOutputs, ov)
	op := uint32(b.EndObject())
	offs := make([]uint32, 100000)
	for i := range offs {
		offs[i] = op
	}
	ops := bb.tables(offs)
	shape := bb.int32s([]int32{1, 4})
	sc, zp := bb.float32s([]float32{0.1}), bb.int64s([]int64{0})
	b.StartObject(quantFields)
	bb.offsetSlot(quantScale, sc)
	bb.offsetSlot(quantZeroPoint, zp)
	q := uint32(b.EndObject())
	b.StartObject(tensorFields)
	bb.offsetSlot(tensorShape, shape)
	b.PrependInt8Slot(tensorType, typeInt8, 0)
	bb.offsetSlot(tensorQuantization, q)
	tt := uint32(b.EndObject())
	tensors := bb.tables([]uint32{tt})
	io := bb.int32s([]int32{0})
	b.StartObject(subgraphFields)
	bb.offsetSlot(subgraphTensors, tensors)
	bb.offsetSlot(subgraphInputs, io)
	bb.offsetSlot(subgraphOutputs, io)
	bb.offsetSlot(subgraphOperators, ops)
	sg := uint32(b.EndObject())
	sgs := bb.tables([]uint32{sg})
	b.StartObject(opcodeFields)
	b.PrependInt32Slot(opcodeBuiltin, opTanh, 0)
	oc := uint32(b.EndObject())
	codes := bb.tables([]uint32{oc})
	b.StartObject(0)
	buf := uint32(b.EndObject())
	bufs := bb.tables([]uint32{buf})
	b.StartObject(modelFields)
	b.PrependUint32Slot(modelVersion, schemaVersion, 0)
	bb.offsetSlot(modelOperatorCodes, codes)
	bb.offsetSlot(modelSubgraphs, sgs)
	bb.offsetSlot(modelBuffers, bufs)
	root := b.EndObject()
	b.FinishWithFileIdentifier(root, []byte(fileIdentifier))
	return b.FinishedBytes()
}

// selfVtable returns a file whose root table's vtable offset points at the
// table itself (a vtable of nonsense lengths).
func selfVtable() []byte {
	b := make([]byte, 32)
	b[0] = 12 // root table at 12
	copy(b[4:], fileIdentifier)
	// soffset 0: the vtable is the table itself.
	return b
}
