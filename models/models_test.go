package models

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// macs counts the multiply-adds of one image through the model's Conv2D,
// DepthwiseConv2D and Dense layers.
func macs(m *nn.Model) int {
	total := 0
	for _, l := range m.Layers() {
		out := m.OutputShape(l.Name())
		switch l := l.(type) {
		case *nn.Conv2D:
			k := l.Kernel.Value.Shape
			total += out.Size() * k[0] * k[1] * k[2]
		case *nn.DepthwiseConv2D:
			k := l.Params()[0].Value.Shape
			total += out.Size() * k[0] * k[1]
		case *nn.Dense:
			total += out.Size() * l.Kernel.Value.Shape[0]
		}
	}
	return total
}

func TestMNISTCNNIsTheReferenceNetwork(t *testing.T) {
	m, err := Build("mnist-cnn", tensor.Shape{28, 28, 1}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := macs(m); got != 14561920 {
		t.Errorf("mnist-cnn: %d multiply-adds per image, want 14,561,920", got)
	}
	trainable, state := 0, 0
	for _, p := range m.Params() {
		if p.Trainable {
			trainable += p.Value.Size()
		} else {
			state += p.Value.Size()
		}
	}
	if trainable != 119914 || state != 320 {
		t.Errorf("mnist-cnn: %d trainable and %d state parameters, want 119,914 and 320", trainable, state)
	}
	if out := m.Outputs()[0]; !out.Equal(tensor.Shape{10}) {
		t.Errorf("output shape %v", out)
	}
}

func TestMobileNetTiny(t *testing.T) {
	for _, in := range []tensor.Shape{{28, 28, 1}, {32, 32, 3}} {
		m, err := Build("mobilenet-tiny", in, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Summary()
		for _, want := range []string{"DepthwiseConv2D", "ReLU6", "Add", "GlobalAveragePooling2D"} {
			if !strings.Contains(s, want) {
				t.Errorf("%v: summary lacks %s:\n%s", in, want, s)
			}
		}
		adds := 0
		for _, l := range m.Layers() {
			if _, ok := l.(*nn.Add); ok {
				adds++
			}
		}
		if adds != 2 {
			t.Errorf("%v: %d residual Adds, want 2", in, adds)
		}
		t.Logf("mobilenet-tiny %v: %d multiply-adds per image", in, macs(m))
		// A forward and backward pass on a small batch runs.
		x := tensor.New(append([]int{3}, in...)...)
		c := &nn.Context{Training: true}
		out, err := m.Forward(c, x)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(c, out[0]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnknownModel(t *testing.T) {
	_, err := Build("resnet", tensor.Shape{28, 28, 1}, 10, 1)
	if err == nil || !strings.Contains(err.Error(), "mnist-cnn, mobilenet-tiny") {
		t.Errorf("unknown model error: %v", err)
	}
}
