package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// maxElements bounds the element count of one tensor (1 GiB of float32).
const maxElements = 1 << 28

// elemSize is the byte size of the data types goqat reads.
var elemSize = map[onnxpb.TensorProto_DataType]int{
	onnxpb.TensorProto_FLOAT: 4,
	onnxpb.TensorProto_INT64: 8,
	onnxpb.TensorProto_INT32: 4,
	onnxpb.TensorProto_INT8:  1,
}

// checkTensor checks a tensor's dimensions against its data and returns
// its element count. Types goqat does not read pass if their dimensions
// are sane (they are rejected where used).
func checkTensor(t *onnxpb.TensorProto) (int, error) {
	n := 1
	for _, d := range t.GetDims() {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d", d)
		}
		if d > maxElements || (d > 0 && n > maxElements/int(d)) {
			return 0, fmt.Errorf("dimensions %v hold more than %d elements", t.GetDims(), maxElements)
		}
		n *= int(d)
	}
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return 0, errors.New("external data is not supported")
	}
	typ := onnxpb.TensorProto_DataType(t.GetDataType())
	size, ok := elemSize[typ]
	if !ok {
		return n, nil
	}
	var have int
	switch {
	case len(t.GetRawData()) > 0:
		if len(t.GetRawData())%size != 0 {
			return 0, fmt.Errorf("%d bytes of raw data is not a whole number of %s values", len(t.GetRawData()), typ)
		}
		have = len(t.GetRawData()) / size
	case typ == onnxpb.TensorProto_FLOAT:
		have = len(t.GetFloatData())
	case typ == onnxpb.TensorProto_INT64:
		have = len(t.GetInt64Data())
	default: // INT32, INT8 live in int32_data
		have = len(t.GetInt32Data())
	}
	if have != n {
		return 0, fmt.Errorf("dimensions %v need %d values, the data holds %d", t.GetDims(), n, have)
	}
	return n, nil
}

// dims returns a checked tensor's dimensions as ints.
func dims(t *onnxpb.TensorProto) []int {
	out := make([]int, len(t.GetDims()))
	for i, d := range t.GetDims() {
		out[i] = int(d)
	}
	return out
}

// floatData returns a float32 tensor's values, checked first.
func floatData(t *onnxpb.TensorProto) ([]float32, error) {
	n, err := checkTensor(t)
	if err != nil {
		return nil, err
	}
	if onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("data type %s, want FLOAT", onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	return append([]float32(nil), t.GetFloatData()...), nil
}

// intData returns an INT64 or INT32 tensor's values as int64, checked
// first.
func intData(t *onnxpb.TensorProto) ([]int64, error) {
	n, err := checkTensor(t)
	if err != nil {
		return nil, err
	}
	raw := t.GetRawData()
	out := make([]int64, n)
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_INT64:
		if len(raw) == 0 {
			copy(out, t.GetInt64Data())
			return out, nil
		}
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case onnxpb.TensorProto_INT32:
		for i := range out {
			if len(raw) == 0 {
				out[i] = int64(t.GetInt32Data()[i])
			} else {
				out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			}
		}
	default:
		return nil, fmt.Errorf("data type %s, want INT64", onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	return out, nil
}
