//go:build unix

package main

import (
	"os"
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

// TestFIFOData puts a FIFO among the IDX files of --data-dir and gives one
// as a --json output: each command ends at once with one line.
func TestFIFOData(t *testing.T) {
	dir := t.TempDir()
	float, _, _ := tinyModels(t, dir)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDXSet(t, data, 20, 10)
	images := filepath.Join(data, "t10k-images-idx3-ubyte")
	if err := os.Remove(images); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(images, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", float, "--data", "fashion", "--data-dir", data}, images + ": not a regular file"},
		{[]string{"train", "--data", "fashion", "--data-dir", data, "--out", filepath.Join(dir, "t.safetensors")}, "not a regular file"},
		{[]string{"eval", "--model", float, "--json", images}, "--json " + images + " is not a regular file"},
	} {
		_, se, code := run(t, c.args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") != 0 {
			t.Errorf("goqat %v: exit %d, stderr %q, want one line containing %q", c.args, code, se, c.want)
		}
	}
}
