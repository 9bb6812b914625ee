package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDistributedFlagErrors checks the data-parallel flags' errors in the
// binary the tests build (without the mpi tag): one line on stderr and a
// non-zero exit, before any data is read.
func TestDistributedFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--distributed", "--epochs", "1", "--out", dir + "/m.safetensors"}, "built with MPI: go build -tags mpi"},
		{[]string{"train", "--blocks", "-1", "--out", dir + "/m.safetensors"}, "--blocks -1 must not be negative"},
		{[]string{"quantize", "--in", dir + "/none.safetensors", "--blocks", "-2", "--out", dir + "/q.safetensors"}, "--blocks -2 must not be negative"},
		{[]string{"train", "--sync-bn", "--epochs", "1", "--out", dir + "/m.safetensors"}, "--sync-bn needs --distributed or --blocks"},
		{[]string{"train", "--distributed", "--distributed-timeout", "0s", "--out", dir + "/m.safetensors"}, "--distributed-timeout 0s must be positive"},
	}
	for _, c := range cases {
		out, errs, code := run(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || strings.Contains(out, "Training") {
			t.Errorf("goqat %v: exit %d, stderr %q, stdout %q; want one line with %q", c.args, code, errs, out, c.want)
		}
	}
}

// TestBlocksOneProcess checks that --blocks alone trains one process as a
// 2-rank job would: the same model from 2 threads and from 1, and not the
// model of a run without blocks; with --sync-bn too (mnist-cnn has
// BatchNorm), and not the model of per-block BatchNorm.
func TestBlocksOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("trains five small models")
	}
	dir := t.TempDir()
	args := []string{"train", "--epochs", "1", "--train-limit", "300", "--test-limit", "100", "--batch", "32", "--verbose", "0"}
	read := func(name string, extra ...string) []byte {
		p := filepath.Join(dir, name)
		if out, errs, code := run(t, append(append(args, extra...), "--out", p)...); code != 0 {
			t.Fatalf("%v: exit %d: %s%s", extra, code, out, errs)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := read("a.safetensors", "--blocks", "2", "--threads", "2")
	b := read("b.safetensors", "--blocks", "2", "--threads", "1")
	c := read("c.safetensors", "--threads", "2")
	if !bytes.Equal(a, b) {
		t.Fatalf("--blocks 2 gave different models with 2 threads and 1")
	}
	if bytes.Equal(a, c) {
		t.Fatalf("--blocks 2 gave the model of a run without blocks")
	}
	d := read("d.safetensors", "--blocks", "2", "--sync-bn", "--threads", "2")
	e := read("e.safetensors", "--blocks", "2", "--sync-bn", "--threads", "1")
	if !bytes.Equal(d, e) {
		t.Fatalf("--blocks 2 --sync-bn gave different models with 2 threads and 1")
	}
	if bytes.Equal(d, a) || bytes.Equal(d, c) {
		t.Fatalf("--sync-bn gave the model of per-block BatchNorm or of a run without blocks")
	}
}
