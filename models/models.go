// Package models holds goqat's built-in model definitions, used by the
// command line and by benchmarks so that results compare with other
// frameworks on exactly the same networks.
package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// builders maps a built-in model name to its constructor.
var builders = map[string]func(in tensor.Shape, classes int) (*nn.Model, error){
	"mnist-cnn":      MNISTCNN,
	"mobilenet-tiny": MobileNetTiny,
}

// Names lists the built-in model names, sorted.
func Names() []string {
	out := make([]string, 0, len(builders))
	for n := range builders {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Build returns the built-in model called name for per-sample input shape in
// (H, W, C) and the given number of classes, with weights initialised from
// seed.
func Build(name string, in tensor.Shape, classes int, seed uint64) (*nn.Model, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (built-in models: %s)", name, strings.Join(Names(), ", "))
	}
	m, err := b(in, classes)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	m.InitWeights(seed)
	return m, nil
}

// conv returns a bias-free Conv2D (a BatchNormalization follows it).
func conv(filters, k, stride int, padding string) *nn.Conv2D {
	c := nn.NewConv2D(filters, k, k)
	c.Strides = [2]int{stride, stride}
	c.Padding = padding
	c.UseBias = false
	return c
}
