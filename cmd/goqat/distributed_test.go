package main

import (
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
		{[]string{"train", "--blocks", "2", "--out", dir + "/m.safetensors"}, "--blocks needs --distributed"},
		{[]string{"train", "--distributed", "--blocks", "-1", "--out", dir + "/m.safetensors"}, "--blocks -1 must not be negative"},
		{[]string{"train", "--distributed", "--distributed-timeout", "0s", "--out", dir + "/m.safetensors"}, "--distributed-timeout 0s must be positive"},
	}
	for _, c := range cases {
		out, errs, code := run(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || strings.Contains(out, "Training") {
			t.Errorf("goqat %v: exit %d, stderr %q, stdout %q; want one line with %q", c.args, code, errs, out, c.want)
		}
	}
}
