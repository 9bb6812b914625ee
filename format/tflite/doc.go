// Package tflite writes goqat's integer models as TensorFlow Lite
// flatbuffers (.tflite) and reads int8 .tflite models into lite.Models.
//
// The schema is the subset of TFLite's schema version 3 (the file
// identifier "TFL3", Model.version 3) that goqat's ops need, written from
// the published schema's table and field ids and enum values
// (schema.go); tables are built and read with the flatbuffers Go runtime
// (github.com/google/flatbuffers/go). Nothing is generated: the field
// slots are constants in schema.go.
//
// Export (Marshal, WriteFile) maps each lite op to TFLite's int8 kernels:
// per-channel int8 convolution weights (quantized_dimension 0 for CONV_2D,
// 3 for DEPTHWISE_CONV_2D), int32 biases of scale s_in*s_w[c], fused
// ReLU/ReLU6, QUANTIZE/DEQUANTIZE at float edges, or int8 edges with
// Options.FullInteger. The batch dimension is 1. An integer LSTM becomes
// TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM ("8x8_16", export_lstm.go),
// an Embedding a CAST and a GATHER. Ops with no TFLite equivalent (GRU,
// SimpleRNN, per-channel LSTM weights among them) are refused with an
// error naming them. MarshalFloat writes a float nn model with FLOAT32
// tensors.
//
// Import (Read, ReadFile) verifies the flatbuffer as it reads it: every
// offset, vector and string is bounded by the buffer, the total work of
// the walk is bounded by the file's size, buffer and tensor indices are in
// range, constant tensors' byte sizes match their shapes, and unknown
// operators or versions are refused with a one-line error naming them.
// The resulting model is validated by lite (Validate, CheckBounds) before
// it is returned. ReadFloat reads float (FLOAT32) files into nn models. The
// package registers the format with lite (lite.RegisterFormat), so that
// lite.Load and lite.IsFile read .tflite files too.
//
// docs/tflite.md lists the ops with their versions, the conformance
// figures against TFLite's own runtime and the differences op by op;
// docs/DESIGN.md, File formats, places the package.
package tflite
