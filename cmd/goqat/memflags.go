package main

import (
	"fmt"

	"github.com/goqat/goqat/internal/bounds"
	"github.com/goqat/goqat/limits"
	"github.com/spf13/pflag"
)

// memoryFlag is --max-memory: setting it sets limits.SetMaxMemory, the
// most memory a model may plan (docs/RELIABILITY.md, Resource bounds).
type memoryFlag struct{ n int64 }

// String prints the value set, "" if none.
func (m *memoryFlag) String() string {
	if m.n == 0 {
		return ""
	}
	return bounds.FormatBytes(m.n)
}

// Set parses a byte count ("16GiB") and applies it.
func (m *memoryFlag) Set(s string) error {
	n, err := limits.ParseBytes(s)
	if err != nil {
		return err
	}
	m.n = n
	limits.SetMaxMemory(n)
	return nil
}

// Type names the value in --help.
func (m *memoryFlag) Type() string { return "bytes" }

// addMemoryFlag registers --max-memory on a command that loads or runs
// models.
func addMemoryFlag(f *pflag.FlagSet) {
	f.Var(&memoryFlag{}, "max-memory", fmt.Sprintf("most memory a model may plan: activations x batch, weights and scratch, e.g. 16GiB "+
		"(default: %s if set, else half of this machine's memory, %s now)", limits.EnvMemory, bounds.FormatBytes(limits.MaxMemory())))
}

// checkBenchMemory refuses, before anything is allocated, a batch size at
// which a model of the set would need more than limits.MaxMemory.
func checkBenchMemory(s *benchSet, batches []int) error {
	lim := limits.MaxMemory()
	check := func(b int, name string, need int64) error {
		if need <= lim {
			return nil
		}
		return fmt.Errorf("--batch %d: %s needs %s at this batch, over the memory limit of %s (raise it with --max-memory or %s)",
			b, name, bounds.FormatBytes(need), bounds.FormatBytes(lim), limits.EnvMemory)
	}
	for _, b := range batches {
		if s.float != nil {
			if err := check(b, s.floatName, s.float.InferenceBytes(b)); err != nil {
				return err
			}
		}
		if s.int8 != nil {
			if err := check(b, s.int8Name, s.int8.InferenceBytes(b)); err != nil {
				return err
			}
		}
	}
	return nil
}
