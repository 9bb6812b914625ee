package safetensors

import (
	"bytes"
	"io"
)

// sniffLen is how many leading bytes otherFormat looks at.
const sniffLen = 16

// otherFormat names the format of a file that is not safetensors from its
// first bytes, for the error a reader returns when the header length makes
// no sense (the first 8 bytes of another format read as a length of about
// 10^18), or "" if it does not recognise them.
func otherFormat(r io.ReaderAt, size int64) string {
	head := make([]byte, min(size, sniffLen))
	if k, _ := r.ReadAt(head, 0); k < len(head) {
		return ""
	}
	switch {
	case isONNX(head):
		return "an ONNX model, not a safetensors file (goqat import converts it to a goqat model)"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "a PNG image, not a safetensors file"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "a gzip file, not a safetensors file"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a ZIP archive (a PyTorch .pt file?), not a safetensors file"
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "a JSON file, not a safetensors file"
	}
	return ""
}

// isONNX reports whether head starts like an ONNX ModelProto as exporters
// write it: field 1 (ir_version, a varint), then another ModelProto field
// with its wire type (producer_name, producer_version, domain,
// model_version, doc_string, graph, opset_import, metadata_props).
func isONNX(head []byte) bool {
	if len(head) < 3 || head[0] != 0x08 {
		return false
	}
	i := 1
	for i < len(head) && head[i]&0x80 != 0 { // the ir_version varint
		i++
	}
	if i+1 >= len(head) {
		return false
	}
	switch head[i+1] {
	case 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72:
		return true
	}
	return false
}
