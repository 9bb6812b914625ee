// Package onnxpb holds the Go types of ONNX's protocol buffers (onnx.proto,
// copied here from Debian's python3-onnx 1.12.0, IR version 8), generated
// with protoc 3.21.12 and protoc-gen-go v1.36.12 by the go:generate line
// below (run `go generate ./format/onnx/onnxpb` with both on PATH:
// `apt-get install protobuf-compiler` and
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/goqat/goqat/format/onnx/onnxpb onnx.proto
