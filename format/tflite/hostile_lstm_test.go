package tflite

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/lite"
)

// marshalEdited exports m (int8 at its edges) with edit applied to the
// graph before it is serialized: files export never writes.
func marshalEdited(t *testing.T, m *lite.Model, edit func(g *graph)) []byte {
	t.Helper()
	g := newGraph(m)
	for _, i := range m.Inputs {
		k, err := g.tensor(i)
		if err != nil {
			t.Fatal(err)
		}
		g.inputs = append(g.inputs, k)
	}
	for k := range m.Ops {
		if err := g.emit(&m.Ops[k]); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range m.Outputs {
		k, err := g.tensor(i)
		if err != nil {
			t.Fatal(err)
		}
		g.outputs = append(g.outputs, k)
	}
	edit(g)
	return g.serialize("edited")
}

// lstmOp returns the graph's UNIDIRECTIONAL_SEQUENCE_LSTM.
func lstmOp(g *graph) *fileOp {
	for i := range g.ops {
		if g.ops[i].code == opUniSeqLSTM {
			return &g.ops[i]
		}
	}
	return nil
}

// TestReadHostileLSTM reads LSTM and Embedding files edited into what
// goqat cannot compute as TFLite does: each a one-line error naming the
// problem, with bounded allocations.
func TestReadHostileLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	m := lstmModel(r, lstmCases[0])
	for _, c := range []struct {
		what, want string
		edit       func(g *graph)
	}{
		{"four intermediates", "intermediates", func(g *graph) { o := lstmOp(g); o.intermediates = o.intermediates[:4] }},
		{"no intermediates", "intermediates", func(g *graph) { lstmOp(g).intermediates = nil }},
		{"intermediate out of range", "out of range", func(g *graph) { lstmOp(g).intermediates[4] = 1 << 20 }},
		{"hidden zero point not negated", "hidden intermediate", func(g *graph) {
			g.tensors[lstmOp(g).intermediates[4]].zps = []int64{5}
		}},
		{"cell scale not a power of two", "power of two", func(g *graph) { g.tensors[lstmOp(g).inputs[19]].scales = []float32{0.0003} }},
		{"cell scale 2^-3", "power of two", func(g *graph) { g.tensors[lstmOp(g).inputs[19]].scales = []float32{0.125} }},
		{"cell state int8", "cell state", func(g *graph) { g.tensors[lstmOp(g).inputs[19]].typ = typeInt8 }},
		{"output state of another scale", "output state", func(g *graph) { g.tensors[lstmOp(g).inputs[18]].scales = []float32{1} }},
		{"peephole set", "peephole", func(g *graph) { lstmOp(g).inputs[9] = 1 }},
		{"20 inputs", "inputs", func(g *graph) { o := lstmOp(g); o.inputs = o.inputs[:20] }},
		{"input index out of range", "out of range", func(g *graph) { lstmOp(g).inputs[2] = -7 }},
		{"weights per channel", "scales", func(g *graph) {
			w := &g.tensors[lstmOp(g).inputs[2]]
			w.scales, w.zps = make([]float32, w.shape[0]), make([]int64, w.shape[0])
			for i := range w.scales {
				w.scales[i] = 0.01
			}
		}},
		{"weights of another shape", "shape", func(g *graph) { g.tensors[lstmOp(g).inputs[3]].shape = []int32{2, 20} }},
		{"bias not int32", "bytes", func(g *graph) { g.tensors[lstmOp(g).inputs[13]].typ = typeInt8 }},
		{"time major", "time_major", func(g *graph) {
			lstmOp(g).opts = func(b *builder) uint32 {
				b.StartObject(lstmFields)
				b.PrependInt8Slot(lstmAct, actTanh, 0)
				b.PrependBoolSlot(lstmTimeMajor, true, false)
				return uint32(b.EndObject())
			}
		}},
		{"no options", "options", func(g *graph) { o := lstmOp(g); o.opts, o.optType = nil, optNone }},
		{"version 2 (hybrid)", "version", func(g *graph) { lstmOp(g).version = 2 }},
	} {
		readHostile(t, c.what, marshalEdited(t, m, c.edit), c.want)
	}
	em, err := FullInteger(embeddingLSTM(r, 4, 9, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, want string
		edit       func(g *graph)
	}{
		{"GATHER of a model input", "CAST", func(g *graph) {
			for i := range g.ops {
				if g.ops[i].code == opGather {
					g.ops[i].inputs[1] = g.inputs[0]
				}
			}
		}},
		{"GATHER axis 1", "axis", func(g *graph) {
			for i := range g.ops {
				if g.ops[i].code == opGather {
					g.ops[i].opts = func(b *builder) uint32 {
						b.StartObject(gatherFields)
						b.PrependInt32Slot(gatherAxis, 1, 0)
						return uint32(b.EndObject())
					}
				}
			}
		}},
		{"CAST to int8", "CAST", func(g *graph) {
			for i := range g.ops {
				if g.ops[i].code == opCast {
					g.tensors[g.ops[i].outputs[0]].typ = typeInt8
				}
			}
		}},
	} {
		readHostile(t, c.what, marshalEdited(t, em, c.edit), c.want)
	}
}
