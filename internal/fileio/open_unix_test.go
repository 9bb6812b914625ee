//go:build unix

package fileio

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenRegular opens a regular file, and refuses a FIFO (at once, not
// waiting for a writer), a folder and a missing path.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, n, err := OpenRegular(p)
	if err != nil || n != 3 {
		t.Fatalf("regular file: %v, size %d", err, n)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	start := time.Now()
	if _, _, err := OpenRegular(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the FIFO was waited on")
	}
	if _, _, err := OpenRegular(dir); err == nil {
		t.Error("a folder was opened")
	}
	if _, _, err := OpenRegular(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was opened")
	}
}
