package models

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestSequenceNetworks(t *testing.T) {
	if got := strings.Join(SequenceNames(), " "); got != "conv1d-rowmnist lstm-rowmnist" {
		t.Errorf("SequenceNames() = %s", got)
	}
	for _, name := range SequenceNames() {
		for _, n := range AllNames() {
			if n == name {
				t.Errorf("AllNames lists the sequence network %s", name)
			}
		}
	}
	for _, c := range []struct {
		name   string
		params int
		typ    string
	}{{"lstm-rowmnist", 81674, "LSTM"}, {"conv1d-rowmnist", 43786, "Conv1D"}} {
		in, classes, ok := Canonical(c.name)
		if !ok || !in.Equal(tensor.Shape{28, 28, 1}) || classes != 10 {
			t.Fatalf("%s: Canonical = %v %d %v", c.name, in, classes, ok)
		}
		// An MNIST image (28, 28, 1) and a sequence (28, 28) both build;
		// the image goes through a Reshape to 28 steps of 28 features.
		for _, shape := range []tensor.Shape{{28, 28, 1}, {28, 28}} {
			m, err := Build(c.name, shape, 10, 1)
			if err != nil {
				t.Fatalf("%s %v: %v", c.name, shape, err)
			}
			n := 0
			for _, p := range m.Params() {
				n += p.Value.Size()
			}
			if n != c.params {
				t.Errorf("%s %v: %d parameters, want %d", c.name, shape, n, c.params)
			}
			if countLayers(m, c.typ) == 0 {
				t.Errorf("%s: no %s layer", c.name, c.typ)
			}
			if len(shape) == 3 && countLayers(m, "Reshape") != 1 {
				t.Errorf("%s: an image input needs one Reshape", c.name)
			}
			x := tensor.New(append([]int{2}, shape...)...)
			for i := range x.Data {
				x.Data[i] = float32(i%17) / 17
			}
			out, err := m.Forward(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			if !out[0].Shape.Equal(tensor.Shape{2, 10}) {
				t.Errorf("%s: output %v", c.name, out[0].Shape)
			}
		}
		for _, bad := range []tensor.Shape{{784}, {28, 28, 1, 1}} {
			if _, err := Build(c.name, bad, 10, 1); err == nil || !strings.Contains(err.Error(), "image (H, W, C)") {
				t.Errorf("%s %v: error %v", c.name, bad, err)
			}
		}
		if _, err := Build(c.name, tensor.Shape{28, 28, 1}, 0, 1); err == nil {
			t.Errorf("%s with 0 classes: no error", c.name)
		}
	}
	if _, err := Build("nope", tensor.Shape{28, 28, 1}, 10, 1); err == nil || !strings.Contains(err.Error(), "lstm-rowmnist") {
		t.Errorf("unknown model error %v does not list the sequence networks", err)
	}
}
