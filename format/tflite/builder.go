package tflite

import (
	flatbuffers "github.com/google/flatbuffers/go"
)

// builder wraps the flatbuffers builder with the vectors the schema uses.
type builder struct{ *flatbuffers.Builder }

// int32s writes a vector of int32.
func (b builder) int32s(v []int32) uint32 {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt32(v[i])
	}
	return uint32(b.EndVector(len(v)))
}

// float32s writes a vector of float32.
func (b builder) float32s(v []float32) uint32 {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependFloat32(v[i])
	}
	return uint32(b.EndVector(len(v)))
}

// int64s writes a vector of int64.
func (b builder) int64s(v []int64) uint32 {
	b.StartVector(8, len(v), 8)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt64(v[i])
	}
	return uint32(b.EndVector(len(v)))
}

// tables writes a vector of table offsets.
func (b builder) tables(offs []uint32) uint32 {
	b.StartVector(4, len(offs), 4)
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(flatbuffers.UOffsetT(offs[i]))
	}
	return uint32(b.EndVector(len(offs)))
}

// bytes16 writes a byte vector whose data starts 16-byte aligned (the
// schema's force_align on Buffer.data).
func (b builder) bytes16(v []byte) uint32 {
	b.StartVector(1, len(v), 16)
	for i := len(v) - 1; i >= 0; i-- {
		b.PlaceByte(v[i])
	}
	return uint32(b.EndVector(len(v)))
}

// offsetSlot sets field id to a table, vector or string offset.
func (b builder) offsetSlot(id int, off uint32) {
	b.PrependUOffsetTSlot(id, flatbuffers.UOffsetT(off), 0)
}

// opcodeKey identifies an operator_codes entry.
type opcodeKey struct{ code, version int32 }

// serialize writes the graph as a TFLite model of one subgraph.
func (g *graph) serialize(description string) []byte {
	size := 1024
	for _, d := range g.buffers {
		size += len(d) + 32
	}
	b := builder{flatbuffers.NewBuilder(size)}

	// Buffers (data first: large, aligned).
	bufOffs := make([]uint32, len(g.buffers))
	for i, d := range g.buffers {
		var data uint32
		if d != nil {
			data = b.bytes16(d)
		}
		b.StartObject(bufferFields)
		if d != nil {
			b.offsetSlot(bufferData, data)
		}
		bufOffs[i] = uint32(b.EndObject())
	}
	buffers := b.tables(bufOffs)

	// Tensors.
	tOffs := make([]uint32, len(g.tensors))
	for i, t := range g.tensors {
		name := uint32(b.CreateString(t.name))
		shape := b.int32s(t.shape)
		var quant uint32
		if t.scales != nil {
			sc, zp := b.float32s(t.scales), b.int64s(t.zps)
			b.StartObject(quantFields)
			b.offsetSlot(quantScale, sc)
			b.offsetSlot(quantZeroPoint, zp)
			b.PrependInt32Slot(quantDimension, t.qdim, 0)
			quant = uint32(b.EndObject())
		}
		fields := tensorFields
		if t.variable {
			fields = tensorIsVariable + 1
		}
		b.StartObject(fields)
		if t.variable {
			b.PrependBoolSlot(tensorIsVariable, true, false)
		}
		b.offsetSlot(tensorShape, shape)
		b.PrependInt8Slot(tensorType, t.typ, 0)
		b.PrependUint32Slot(tensorBuffer, t.buffer, 0)
		b.offsetSlot(tensorName, name)
		if quant != 0 {
			b.offsetSlot(tensorQuantization, quant)
		}
		tOffs[i] = uint32(b.EndObject())
	}
	tensors := b.tables(tOffs)

	// Operator codes, in order of first use.
	codes := map[opcodeKey]uint32{}
	var keys []opcodeKey
	for _, o := range g.ops {
		k := opcodeKey{o.code, o.version}
		if _, ok := codes[k]; !ok {
			codes[k] = uint32(len(keys))
			keys = append(keys, k)
		}
	}
	cOffs := make([]uint32, len(keys))
	for i, k := range keys {
		dep := int8(k.code)
		if k.code > deprecatedPlaceholder-1 {
			dep = deprecatedPlaceholder
		}
		b.StartObject(opcodeFields)
		b.PrependInt8Slot(opcodeDeprecatedBuiltin, dep, 0)
		b.PrependInt32Slot(opcodeVersion, k.version, 1)
		b.PrependInt32Slot(opcodeBuiltin, k.code, 0)
		cOffs[i] = uint32(b.EndObject())
	}
	opcodes := b.tables(cOffs)

	// Operators.
	oOffs := make([]uint32, len(g.ops))
	for i, o := range g.ops {
		var opts uint32
		if o.opts != nil {
			opts = o.opts(&b)
		}
		ins, outs := b.int32s(o.inputs), b.int32s(o.outputs)
		fields := operatorFields
		var inter uint32
		if o.intermediates != nil {
			inter = b.int32s(o.intermediates)
			fields = operatorIntermediates + 1
		}
		b.StartObject(fields)
		if o.intermediates != nil {
			b.offsetSlot(operatorIntermediates, inter)
		}
		b.PrependUint32Slot(operatorOpcodeIndex, codes[opcodeKey{o.code, o.version}], 0)
		b.offsetSlot(operatorInputs, ins)
		b.offsetSlot(operatorOutputs, outs)
		if o.opts != nil {
			b.PrependByteSlot(operatorBuiltinOptionsType, o.optType, 0)
			b.offsetSlot(operatorBuiltinOptions, opts)
		}
		oOffs[i] = uint32(b.EndObject())
	}
	operators := b.tables(oOffs)

	ins, outs := b.int32s(g.inputs), b.int32s(g.outputs)
	name := uint32(b.CreateString("main"))
	b.StartObject(subgraphFields)
	b.offsetSlot(subgraphTensors, tensors)
	b.offsetSlot(subgraphInputs, ins)
	b.offsetSlot(subgraphOutputs, outs)
	b.offsetSlot(subgraphOperators, operators)
	b.offsetSlot(subgraphName, name)
	sg := uint32(b.EndObject())
	subgraphs := b.tables([]uint32{sg})

	desc := uint32(b.CreateString(description))
	b.StartObject(modelFields)
	b.PrependUint32Slot(modelVersion, schemaVersion, 0)
	b.offsetSlot(modelOperatorCodes, opcodes)
	b.offsetSlot(modelSubgraphs, subgraphs)
	b.offsetSlot(modelDescription, desc)
	b.offsetSlot(modelBuffers, buffers)
	root := b.EndObject()
	b.FinishWithFileIdentifier(root, []byte(fileIdentifier))
	return b.FinishedBytes()
}
