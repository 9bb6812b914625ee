// Package lite is goqat's integer runtime: the integer model (int8 weights
// per output channel, int32 biases, per-tensor int8 activations with a
// scale and zero point, fused ReLU/ReLU6 as clamps), its safetensors file
// form, and the Interpreter that runs it with integer arithmetic only.
//
// The runtime depends only on the numerics (package qmath), the kernels
// (internal/qkernels, internal/kernels), tensor and the file format: no
// training code. Integer models are made from trained QAT models by package
// convert, loaded from files (Load), or built by hand (Model and Op are
// plain data, checked by Validate).
//
// One op kind per file (conv.go, depthwise.go, add.go, ...). The numerics
// are those of docs/DESIGN.md, Numerics (TFLite's int8 specification) and
// are computed by package qmath; each op's fast kernels are held bit-exact
// to a plain reference loop by the tests (ops_test.go, conv_paths_test.go,
// and internal/qkernels' tests).
//
// An Interpreter allocates its buffers once (Allocate, or at the first
// Invoke) and then allocates nothing per Invoke; Clone makes another
// interpreter that shares the packed weights, one per goroutine.
// SetThreads caps the threads of one interpreter; threads.Set sets the
// process default.
package lite
