package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/tensor"
	"google.golang.org/protobuf/proto"
)

// Opset is the ONNX operator set version of exported models.
const Opset = 13

// IRVersion is the ONNX IR version of exported models (ONNX 1.12).
const IRVersion = 8

// Producer is the producer_name of exported models.
const Producer = "goqat"

// ProducerVersion is the producer_version of exported models.
const ProducerVersion = "0.1"

// Permutations between goqat's NHWC and ONNX's NCHW.
var (
	toNCHW = []int64{0, 3, 1, 2}
	toNHWC = []int64{0, 2, 3, 1}
)

// builder assembles one ONNX graph: nodes in order, initializers, and
// unique names.
type builder struct {
	g     *onnxpb.GraphProto
	taken map[string]bool
}

func newBuilder(name string) *builder {
	return &builder{g: &onnxpb.GraphProto{Name: proto.String(name)}, taken: map[string]bool{}}
}

// unique returns name, or name_1, name_2, ... if it is taken, and takes it.
func (b *builder) unique(name string) string {
	n := name
	for k := 1; b.taken[n]; k++ {
		n = fmt.Sprintf("%s_%d", name, k)
	}
	b.taken[n] = true
	return n
}

// node appends a node computing outs from ins and returns its first output.
func (b *builder) node(op, name string, ins []string, outs []string, attrs ...*onnxpb.AttributeProto) string {
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		OpType:    proto.String(op),
		Name:      proto.String(b.unique("node:" + name)),
		Input:     ins,
		Output:    outs,
		Attribute: attrs,
	})
	return outs[0]
}

// op appends a one-output node whose output gets a fresh name derived
// from out, and returns that name.
func (b *builder) op(op, out string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	o := b.unique(out)
	return b.node(op, o, ins, []string{o}, attrs...)
}

// initializer adds a constant tensor and returns its name.
func (b *builder) initializer(t *onnxpb.TensorProto) string {
	t.Name = proto.String(b.unique(t.GetName()))
	b.g.Initializer = append(b.g.Initializer, t)
	return t.GetName()
}

func (b *builder) floats(name string, dims []int, data []float32) string {
	return b.initializer(floatTensor(name, dims, data))
}

func (b *builder) int64s(name string, dims []int, data []int64) string {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: dims64(dims)}
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	t.RawData = raw
	return b.initializer(t)
}

func (b *builder) int8s(name string, dims []int, data []int8) string {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)), Dims: dims64(dims)}
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	t.RawData = raw
	return b.initializer(t)
}

func (b *builder) uint8s(name string, dims []int, data []uint8) string {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)), Dims: dims64(dims)}
	t.RawData = append([]byte(nil), data...)
	return b.initializer(t)
}

func (b *builder) int32s(name string, dims []int, data []int32) string {
	t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT32)), Dims: dims64(dims)}
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
	}
	t.RawData = raw
	return b.initializer(t)
}

// floatTensor returns a float32 tensor with raw little-endian data.
func floatTensor(name string, dims []int, data []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims64(dims), RawData: raw}
}

func dims64(d []int) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

// valueInfo describes a graph input or output: elem type and a shape
// whose first dimension is the dynamic batch "N".
func valueInfo(name string, elem onnxpb.TensorProto_DataType, perSample tensor.Shape) *onnxpb.ValueInfoProto {
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}}
	for _, d := range perSample {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(elem)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// windowAttrs returns kernel_shape, strides and pads (ONNX order: top,
// left, bottom, right) of a 2-D window with goqat padding (top, bottom,
// left, right).
func windowAttrs(k, s [2]int, pad [4]int) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{
		attrInts("kernel_shape", int64(k[0]), int64(k[1])),
		attrInts("strides", int64(s[0]), int64(s[1])),
		attrInts("pads", int64(pad[0]), int64(pad[2]), int64(pad[1]), int64(pad[3])),
	}
}

// dilationAttrs returns a Conv's dilations attribute, none for (1, 1)
// (ONNX's default, so that undilated convolutions export as before).
func dilationAttrs(d [2]int) []*onnxpb.AttributeProto {
	if d == [2]int{1, 1} {
		return nil
	}
	return []*onnxpb.AttributeProto{attrInts("dilations", int64(d[0]), int64(d[1]))}
}

// newModelProto wraps a graph with the model-level fields.
func newModelProto(g *onnxpb.GraphProto, doc string, meta map[string]string, keys []string) *onnxpb.ModelProto {
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String(Producer),
		ProducerVersion: proto.String(ProducerVersion),
		Domain:          proto.String("ai.goqat"),
		ModelVersion:    proto.Int64(1),
		DocString:       proto.String(doc),
		Graph:           g,
	}
	for _, k := range keys {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(meta[k])})
	}
	return mp
}

// convWeights reorders a goqat kernel (KH,KW,C,OC) into ONNX's (OC,C,KH,KW).
func convWeights[T any](w []T, kh, kw, c, oc int) []T {
	out := make([]T, len(w))
	for y := 0; y < kh; y++ {
		for x := 0; x < kw; x++ {
			for i := 0; i < c; i++ {
				for o := 0; o < oc; o++ {
					out[((o*c+i)*kh+y)*kw+x] = w[((y*kw+x)*c+i)*oc+o]
				}
			}
		}
	}
	return out
}

// transpose2 returns the (cols, rows) transpose of a row-major (rows, cols)
// matrix.
func transpose2[T any](w []T, rows, cols int) []T {
	out := make([]T, len(w))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = w[r*cols+c]
		}
	}
	return out
}
