//go:build unix

package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// largeModels writes a float model whose evaluation on the 10,000 MNIST
// test images takes minutes (about 21 million multiply-adds per image, a
// few seconds per batch of 256) and its integer model into dir.
func largeModels(t *testing.T, dir string) (float, integer string) {
	t.Helper()
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1},
		nn.NewConv2D(32, 3, 3), nn.NewReLU(), nn.NewConv2D(128, 3, 3), nn.NewReLU(),
		nn.NewGlobalAveragePooling2D(), nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(2)
	qm, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(4, 28, 28, 1)
	r := rand.New(rand.NewPCG(4, 4))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	if err := quantize.Calibrate(context.Background(), qm, x, 4); err != nil {
		t.Fatal(err)
	}
	im, err := convert.Convert(qm)
	if err != nil {
		t.Fatal(err)
	}
	float, integer = filepath.Join(dir, "large.safetensors"), filepath.Join(dir, "large.int8.safetensors")
	if err := nn.Save(float, m); err != nil {
		t.Fatal(err)
	}
	if err := lite.Save(integer, im); err != nil {
		t.Fatal(err)
	}
	return float, integer
}

// TestSignalStopsLongCommands sends SIGTERM or SIGINT to eval (float and
// integer models) and bench of a large model while they run: each ends
// within a second of the signal with exit code 143 or 130 and one line.
func TestSignalStopsLongCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a large model for a few seconds")
	}
	float, integer := largeModels(t, t.TempDir())
	for _, c := range []struct {
		args []string
		sig  syscall.Signal
		want string
		code int
	}{
		{[]string{"eval", "--model", float}, syscall.SIGTERM, "goqat: eval interrupted by SIGTERM", 143},
		{[]string{"eval", "--model", integer, "--batch", "10000"}, syscall.SIGTERM, "goqat: eval interrupted by SIGTERM", 143},
		{[]string{"bench", "--model", float, "--batch", "64", "--min-time", "10m"}, syscall.SIGINT, "goqat: bench interrupted by SIGINT", 130},
	} {
		// A second attempt is allowed when the first took too long: on a
		// loaded machine the process may wait for a core (a command that
		// ignores the signal misses the bound both times).
		var took time.Duration
		for attempt := 1; attempt <= 2; attempt++ {
			p := start(t, nil, c.args...)
			time.Sleep(1500 * time.Millisecond) // loading takes well under a second
			if p.cmd.ProcessState != nil {
				t.Fatalf("goqat %v ended before the signal", c.args)
			}
			sent := time.Now()
			if err := p.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			code, stderr := p.wait(t)
			took = time.Since(sent)
			if code != c.code || strings.TrimSpace(stderr) != c.want {
				t.Errorf("goqat %v after %v: exit %d, stderr %q; want %d and %q", c.args, c.sig, code, stderr, c.code, c.want)
			}
			if took <= time.Second {
				break
			}
			if attempt == 2 {
				t.Errorf("goqat %v ended %v after %v, want within a second (twice)", c.args, took, c.sig)
			} else {
				t.Logf("goqat %v ended %v after %v: trying again", c.args, took, c.sig)
			}
		}
		t.Logf("goqat %v: ended %v after %v", c.args, took.Round(time.Millisecond), c.sig)
	}
}
