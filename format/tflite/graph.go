package tflite

import (
	"fmt"

	"github.com/goqat/goqat/lite"
)

// fileTensor is one tensor of the file being written: shape with the batch
// dimension first, element type, constant data (buffer index, 0: none) and
// quantization (nil scales: none).
type fileTensor struct {
	name   string
	shape  []int32
	typ    int8
	buffer uint32
	scales []float32
	zps    []int64
	qdim   int32
	// variable marks a state tensor the runtime keeps between steps
	// (Tensor.is_variable).
	variable bool
}

// fileOp is one operator of the file being written. opts builds its
// builtin options table (nil: none).
type fileOp struct {
	code    int32
	version int32
	inputs  []int32
	outputs []int32
	optType byte
	opts    func(*builder) uint32
	// intermediates lists tensors that carry quantization parameters for
	// the op's internal values (Operator.intermediates; nil: none).
	intermediates []int32
}

// graph is a subgraph under construction: its tensors, operators and the
// model's constant buffers (buffer 0 is the empty sentinel every file
// starts with).
type graph struct {
	m       *lite.Model
	tensors []fileTensor
	ops     []fileOp
	buffers [][]byte
	inputs  []int32
	outputs []int32
	tmap    map[int]int32 // lite tensor index -> file tensor index
}

func newGraph(m *lite.Model) *graph {
	return &graph{m: m, buffers: [][]byte{nil}, tmap: map[int]int32{}}
}

// shapeOf returns a per-sample shape with the batch dimension 1 in front.
func shapeOf(s []int) []int32 {
	out := make([]int32, 0, len(s)+1)
	out = append(out, 1)
	for _, d := range s {
		out = append(out, int32(d))
	}
	return out
}

// tensor returns the file index of lite tensor i, adding it on first use.
func (g *graph) tensor(i int) (int32, error) {
	if k, ok := g.tmap[i]; ok {
		return k, nil
	}
	t := &g.m.Tensors[i]
	ft := fileTensor{name: t.Name, shape: shapeOf(t.Shape)}
	switch t.DType {
	case lite.Float32:
		ft.typ = typeFloat32
	case lite.Int8:
		if t.Bits != 8 {
			return 0, fmt.Errorf("tensor %q has %d-bit activations; TFLite's int8 tensors are 8-bit (convert with 8-bit activations)", t.Name, t.Bits)
		}
		ft.typ = typeInt8
		ft.scales, ft.zps = []float32{t.Scale}, []int64{int64(t.ZeroPoint)}
	default:
		return 0, fmt.Errorf("tensor %q has dtype %q", t.Name, t.DType)
	}
	k := g.add(ft)
	g.tmap[i] = k
	return k, nil
}

// add appends a tensor and returns its index.
func (g *graph) add(t fileTensor) int32 {
	g.tensors = append(g.tensors, t)
	return int32(len(g.tensors) - 1)
}

// like returns a new activation tensor with t's type and quantization and
// the given shape (batch included).
func (g *graph) like(t int32, name string, shape []int32) int32 {
	src := g.tensors[t]
	return g.add(fileTensor{name: name, shape: shape, typ: src.typ, scales: src.scales, zps: src.zps})
}

// constant adds a constant tensor holding data.
func (g *graph) constant(name string, typ int8, shape []int32, data []byte, scales []float32, zps []int64, qdim int32) int32 {
	g.buffers = append(g.buffers, data)
	return g.add(fileTensor{name: name, shape: shape, typ: typ, buffer: uint32(len(g.buffers) - 1), scales: scales, zps: zps, qdim: qdim})
}

// int32Const adds a constant int32 vector (shapes, paddings, slice
// bounds) of shape dims (default: its length).
func (g *graph) int32Const(name string, v []int32, dims ...int32) int32 {
	if dims == nil {
		dims = []int32{int32(len(v))}
	}
	return g.constant(name, typeInt32, dims, int32Bytes(v), nil, nil, 0)
}

// op appends an operator.
func (g *graph) op(o fileOp) { g.ops = append(g.ops, o) }

// int32Bytes returns v little-endian.
func int32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := uint32(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

// int8Bytes returns v as bytes.
func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}
