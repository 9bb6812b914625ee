//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFIFOInput gives every model-reading command a FIFO: each ends at once
// with one line, never waiting for a writer.
func TestFIFOInput(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	out := filepath.Join(t.TempDir(), "out.safetensors")
	for _, args := range [][]string{
		{"eval", "--model", fifo},
		{"inspect", fifo},
		{"bench", "--model", fifo},
		{"convert", "--in", fifo, "--out", out},
		{"convert", "--ptq", "--in", fifo, "--out", out},
		{"import", "--in", fifo, "--out", out},
		{"quantize", "--in", fifo, "--out", out},
	} {
		_, se, code := run(t, args...)
		if code == 0 || !strings.Contains(se, "not a regular file") || strings.Count(strings.TrimSpace(se), "\n") != 0 {
			t.Errorf("goqat %v: exit %d, stderr %q", args, code, se)
		}
	}
}
