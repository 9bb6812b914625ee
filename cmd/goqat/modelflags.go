package main

import (
	"fmt"
	"strconv"
	"strings"

	// Registers .tflite with lite.Load and lite.IsFile, so that every
	// command reading integer models accepts TensorFlow Lite files.
	_ "github.com/goqat/goqat/format/tflite"
	"github.com/goqat/goqat/models"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
	"github.com/spf13/pflag"
)

// netFlags are the flags that shape a built-in network: its input, class
// count and width multiplier.
type netFlags struct {
	input   string
	classes int
	alpha   float64
}

// addNetFlags registers --input, --classes and --alpha.
func addNetFlags(f *pflag.FlagSet, n *netFlags) {
	f.StringVar(&n.input, "input", "", "input shape HxWxC of a built-in model (default: the network's own, e.g. 224x224x3)")
	f.IntVar(&n.classes, "classes", 0, "classes of a built-in model (default: the network's own, e.g. 1000)")
	f.Float64Var(&n.alpha, "alpha", 0, "width multiplier of mobilenet-v1 and mobilenet-v2, in (0, 4] (default 1)")
}

// Bounds of --input: a built-in network's activations grow with the input
// (ResNet-50's first layers hold about 20 values per input value), so a
// per-image size beyond these would ask for tens of gigabytes.
const (
	maxInputSide   = 4096
	maxInputValues = 1 << 22
)

// parseInput reads an input shape "HxWxC" (or "HxW", one channel).
func parseInput(s string) (tensor.Shape, error) {
	parts := strings.Split(strings.ToLower(s), "x")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("--input %q: want HxWxC, e.g. 224x224x3", s)
	}
	var sh tensor.Shape
	for _, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 || v > maxInputSide {
			return nil, fmt.Errorf("--input %q: each dimension must be a whole number from 1 to %d", s, maxInputSide)
		}
		sh = append(sh, v)
	}
	if len(sh) == 2 {
		sh = append(sh, 1)
	}
	if sh.Size() > maxInputValues {
		return nil, fmt.Errorf("--input %q: %d values per image, at most %d (e.g. 1024x1024x4)", s, sh.Size(), maxInputValues)
	}
	return sh, nil
}

// build makes the built-in network name with the flags' shape, classes and
// alpha (defaults: the network's canonical ones).
func (n *netFlags) build(name string, seed uint64) (*nn.Model, error) {
	in, classes, ok := models.Canonical(name)
	if !ok {
		return nil, fmt.Errorf("unknown model %q (built-in models: %s)", name, strings.Join(append(models.AllNames(), models.SequenceNames()...), ", "))
	}
	if n.input != "" {
		var err error
		if in, err = parseInput(n.input); err != nil {
			return nil, err
		}
	}
	if n.classes < 0 || n.classes > 1<<20 {
		return nil, fmt.Errorf("--classes %d: want 1 to %d", n.classes, 1<<20)
	}
	if n.classes > 0 {
		classes = n.classes
	}
	return models.BuildWith(name, in, classes, seed, models.Options{Alpha: n.alpha})
}
