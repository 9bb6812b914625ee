package models

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// TestMLP builds mlp for feature vectors and for images, trains each one
// step as a float and as a QAT model, and converts the QAT model: a
// Dense-only network must compute the same output codes in the integer
// interpreter as in QAT inference mode.
func TestMLP(t *testing.T) {
	for _, c := range []struct {
		in     tensor.Shape
		hidden []int
		layers int // Dense layers
	}{
		{tensor.Shape{6}, nil, 3},
		{tensor.Shape{5}, []int{7}, 2},
		{tensor.Shape{4, 3, 2}, []int{8, 8, 4}, 4},
	} {
		m, err := BuildWith("mlp", c.in, 4, 1, Options{Hidden: c.hidden})
		if err != nil {
			t.Fatalf("mlp %v: %v", c.in, err)
		}
		if got := countLayers(m, "Dense"); got != c.layers {
			t.Errorf("mlp %v hidden %v: %d Dense layers, want %d", c.in, c.hidden, got, c.layers)
		}
		if (countLayers(m, "Flatten") == 1) != (len(c.in) > 1) {
			t.Errorf("mlp %v: Flatten only for inputs of rank > 1", c.in)
		}
		x, y := trainable(t, m)
		qm := qatStep(t, m, x, y)
		checkConverts(t, qm, x)
	}
}

// TestMLPErrors checks the hidden-layer and shape errors, and that other
// networks refuse hidden widths.
func TestMLPErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     tensor.Shape
		hidden []int
		want   string
	}{
		{"mlp", tensor.Shape{4}, []int{0}, "hidden layer of 0 units"},
		{"mlp", tensor.Shape{4}, []int{1 << 20}, "hidden layer of"},
		{"mlp", tensor.Shape{4}, make([]int, 65), "hidden layers"},
		{"mlp", tensor.Shape{}, nil, "input"},
		{"mnist-cnn", tensor.Shape{28, 28, 1}, []int{3}, "only mlp"},
	} {
		if _, err := BuildWith(c.name, c.in, 3, 1, Options{Hidden: c.hidden}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v hidden %v: error %v, want %q", c.name, c.in, len(c.hidden), err, c.want)
		}
	}
}
