// Package limits sets how much work and memory a model may ask for. Every
// loader (nn.Load, lite.Load, onnx.Import) plans a model before anything
// runs: its output shapes with checked arithmetic, the operations one
// sample takes (multiply-adds, pooling window taps including the padding,
// values written) and the bytes a batch needs (every activation times the
// batch, plus weights, packed weights and scratch such as im2col buffers).
// A model whose work per sample is over MaxWork, or whose batch of one
// needs more than MaxMemory, is refused with a one-line error; evaluation
// loops (nn's Evaluate and Predict, lite.Accuracy) run in the largest
// batch, at most the one asked for, that fits in MaxMemory, and
// lite.Interpreter.Allocate refuses a batch that does not
// (docs/RELIABILITY.md, Resource bounds).
//
// The defaults are half of the machine's memory (MemTotal of
// /proc/meminfo; 8 GiB where it cannot be read) and 2^36 operations per
// sample. The environment variables GOQAT_MAX_MEMORY (bytes with an
// optional unit, e.g. 16GiB) and GOQAT_MAX_WORK (a positive integer),
// read when the program starts, change them, as do SetMaxMemory and
// SetMaxWork (and the goqat command's --max-memory flag). An invalid
// value of either variable is ignored.
package limits

import "github.com/goqat/goqat/internal/bounds"

// Environment variables read at start-up.
const (
	EnvMemory = bounds.EnvMemory
	EnvWork   = bounds.EnvWork
)

// MaxMemory returns the most bytes a model may plan for a run.
func MaxMemory() int64 { return bounds.MaxMemory() }

// SetMaxMemory sets MaxMemory in bytes; n < 1 restores the default (half
// of the machine's memory). Models loaded and batches sized afterwards
// follow it.
func SetMaxMemory(n int64) { bounds.SetMaxMemory(n) }

// MaxWork returns the most operations a model may take per sample.
func MaxWork() int64 { return bounds.MaxWork() }

// SetMaxWork sets MaxWork; n < 1 restores the default, 2^36.
func SetMaxWork(n int64) { bounds.SetMaxWork(n) }

// ParseBytes reads a byte count such as "8GiB", "512MiB", "1.5G" or
// "1000000" (B, KiB/MiB/GiB/TiB and K/M/G/T in powers of 1024, kB/MB/GB/TB
// in powers of 1000, case-insensitive), as GOQAT_MAX_MEMORY and
// --max-memory take it.
func ParseBytes(s string) (int64, error) { return bounds.ParseBytes(s) }
