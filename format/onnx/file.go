package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/internal/fileio"
	"google.golang.org/protobuf/proto"
)

// DefaultMaxFileBytes bounds the size of an ONNX file that ReadFile reads
// when Limits.MaxFileBytes is 0: 1 GiB.
const DefaultMaxFileBytes = 1 << 30

// Limits bounds what the loaders accept.
type Limits struct {
	// MaxFileBytes is the largest file accepted (0: DefaultMaxFileBytes).
	MaxFileBytes int64
}

func (l Limits) maxBytes() int64 {
	if l.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return l.MaxFileBytes
}

// Marshal encodes a model in the ONNX protobuf wire format,
// deterministically (the same model gives the same bytes).
func Marshal(mp *onnxpb.ModelProto) ([]byte, error) {
	if mp == nil {
		return nil, errors.New("onnx: nil model")
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// WriteFile writes a model to path atomically (a temporary file in the
// same folder, then a rename), with mode 0644.
func WriteFile(path string, mp *onnxpb.ModelProto) error {
	data, err := Marshal(mp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".goqat-onnx-*")
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("onnx: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}

// ReadFile reads and checks an ONNX model: the file size is bounded
// (lim.MaxFileBytes, default 1 GiB) before anything is read, and the
// decoded model is checked as Unmarshal does.
func ReadFile(path string, lim Limits) (*onnxpb.ModelProto, error) {
	f, size, err := fileio.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	if size > lim.maxBytes() {
		return nil, fmt.Errorf("onnx: %s is %d bytes, over the limit of %d", path, size, lim.maxBytes())
	}
	data, err := io.ReadAll(io.LimitReader(f, lim.maxBytes()+1))
	if err != nil {
		return nil, fmt.Errorf("onnx: read %s: %w", path, err)
	}
	if int64(len(data)) > lim.maxBytes() {
		return nil, fmt.Errorf("onnx: %s grew over the limit of %d bytes while read", path, lim.maxBytes())
	}
	mp, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mp, nil
}

// Unmarshal decodes an ONNX model and checks what goqat relies on: a
// graph, and every initializer and Constant tensor's dimensions against
// its data (non-negative, no overflow, the element count matching the
// data length), so that no later step allocates from an unchecked size.
func Unmarshal(data []byte) (*onnxpb.ModelProto, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("onnx: not an ONNX model: %w", err)
	}
	if mp.GetGraph() == nil {
		return nil, errors.New("onnx: model has no graph")
	}
	for _, t := range mp.GetGraph().GetInitializer() {
		if _, err := checkTensor(t); err != nil {
			return nil, fmt.Errorf("onnx: initializer %q: %w", t.GetName(), err)
		}
	}
	for _, n := range mp.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if a.GetT() != nil {
				if _, err := checkTensor(a.GetT()); err != nil {
					return nil, fmt.Errorf("onnx: node %q (%s) attribute %q: %w", n.GetName(), n.GetOpType(), a.GetName(), err)
				}
			}
		}
	}
	return mp, nil
}
