package onnx

import (
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// SetMetadata sets the model-level metadata_props entry key of mp to value,
// replacing an entry of that key or appending one: e.g. the preprocessing a
// goqat model file records (datasets.Preprocessing.MetadataProps), so that
// an ONNX runtime's user can prepare inputs the same way.
func SetMetadata(mp *onnxpb.ModelProto, key, value string) {
	for _, p := range mp.MetadataProps {
		if p.GetKey() == key {
			p.Value = proto.String(value)
			return
		}
	}
	mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}
