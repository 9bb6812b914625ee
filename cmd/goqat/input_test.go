package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestInputPadsData trains resnet20 (which needs 32x32 inputs) on 28x28
// MNIST padded by --input 32x32, evaluates the saved model the same way
// (given --input, or from the model file's record), and checks the errors
// for an --input smaller than the images, a channel count padding cannot
// make, and evaluation without the padding.
func TestInputPadsData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains resnet20 briefly: skipped in -short mode")
	}
	out := filepath.Join(t.TempDir(), "r20.safetensors")
	limits := []string{"--data", "mnist", "--train-limit", "64", "--test-limit", "32"}
	if so, se, code := run(t, append([]string{"train", "--model", "resnet20", "--input", "32x32", "--epochs", "1",
		"--batch", "32", "--verbose", "0", "--out", out}, limits...)...); code != 0 {
		t.Fatalf("train resnet20 --input 32x32: exit %d\n%s%s", code, so, se)
	}
	if so, se, code := run(t, append([]string{"eval", "--model", out, "--input", "32x32"}, limits...)...); code != 0 || !strings.Contains(so, "accuracy") {
		t.Errorf("eval --input 32x32: exit %d\n%s%s", code, so, se)
	}
	// The model file records the padding: eval applies it unasked.
	if so, se, code := run(t, append([]string{"eval", "--model", out}, limits...)...); code != 0 || !strings.Contains(so, "accuracy") {
		t.Errorf("eval without --input: exit %d\n%s%s", code, so, se)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", out, "--input", "28x28"}, "28"},            // the model wants 32x32
		{[]string{"eval", "--model", out, "--input", "16x16"}, "smaller"},       // cannot shrink
		{[]string{"eval", "--model", out, "--input", "32x32x3"}, "channel"},     // cannot add channels
		{[]string{"eval", "--model", out, "--input", "32x"}, "--input"},         // malformed
		{[]string{"eval", "--model", out, "--input", "99999x99999"}, "--input"}, // beyond the bound
	} {
		_, se, code := run(t, append(c.args, limits...)...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") > 0 {
			t.Errorf("goqat %v: exit %d, stderr %q (want one line mentioning %q)", c.args, code, se, c.want)
		}
	}
}
