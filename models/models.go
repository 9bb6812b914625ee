// Package models holds goqat's built-in model definitions, used by the
// command line and by benchmarks so that results compare with other
// frameworks on exactly the same networks.
//
// Two kinds of image network are built in. The small ones (Names:
// mnist-cnn, mobilenet-tiny) train on 28x28 images in seconds; the tests
// of other packages run every one of them. The real networks
// (mobilenet-v1, mobilenet-v2, resnet18, resnet50, resnet20, squeezenet)
// are Keras's or torchvision's, layer for layer, with the published
// parameter counts; AllNames lists both kinds. The sequence networks
// (SequenceNames: lstm-rowmnist, conv1d-rowmnist) read an image row by row;
// AllNames leaves them out until QAT and conversion support their layers.
// Build and BuildWith build any of them.
package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// Options configures BuildWith. The zero value builds every network as
// Build does.
type Options struct {
	// Alpha is the width multiplier of mobilenet-v1 and mobilenet-v2 (Keras
	// applications' alpha), in (0, 4]; 0 means 1. The other networks have
	// no width multiplier and accept only 0 or 1.
	Alpha float64
	// Hidden is the hidden layer widths of mlp (empty: DefaultHidden);
	// the other networks accept only an empty list.
	Hidden []int
}

// network is one built-in model.
type network struct {
	// build makes the model for input in (H, W, C), classes outputs and
	// width multiplier alpha (1 for networks without one).
	build func(in tensor.Shape, classes int, alpha float64) (*nn.Model, error)
	// alpha reports whether the network has a width multiplier.
	alpha bool
	// hidden, if not nil, builds the network with Options.Hidden instead
	// of build.
	hidden func(in tensor.Shape, classes int, hidden []int) (*nn.Model, error)
	// small marks the networks Names lists.
	small bool
	// seq marks the sequence networks (SequenceNames), which AllNames
	// leaves out until QAT and conversion support their layers.
	seq bool
	// in and classes are the network's canonical input and class count.
	in      tensor.Shape
	classes int
}

// networks maps a built-in model name to its constructor.
var networks = map[string]network{
	"mnist-cnn": {small: true, in: tensor.Shape{28, 28, 1}, classes: 10, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return MNISTCNN(in, classes)
	}},
	"mobilenet-tiny": {small: true, in: tensor.Shape{28, 28, 1}, classes: 10, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return MobileNetTiny(in, classes)
	}},
	"mlp":          {in: tensor.Shape{28, 28, 1}, classes: 10, hidden: MLP},
	"mobilenet-v1": {in: tensor.Shape{224, 224, 3}, classes: 1000, alpha: true, build: MobileNetV1},
	"mobilenet-v2": {in: tensor.Shape{224, 224, 3}, classes: 1000, alpha: true, build: MobileNetV2},
	"resnet18": {in: tensor.Shape{224, 224, 3}, classes: 1000, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return ResNet18(in, classes)
	}},
	"resnet50": {in: tensor.Shape{224, 224, 3}, classes: 1000, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return ResNet50(in, classes)
	}},
	"resnet20": {in: tensor.Shape{32, 32, 3}, classes: 10, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return ResNet20(in, classes)
	}},
	"squeezenet": {in: tensor.Shape{224, 224, 3}, classes: 1000, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return SqueezeNet(in, classes)
	}},
	"lstm-rowmnist": {seq: true, in: tensor.Shape{28, 28, 1}, classes: 10, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return LSTMRowMNIST(in, classes)
	}},
	"conv1d-rowmnist": {seq: true, in: tensor.Shape{28, 28, 1}, classes: 10, build: func(in tensor.Shape, classes int, _ float64) (*nn.Model, error) {
		return Conv1DRowMNIST(in, classes)
	}},
}

// Names lists the small built-in networks (mnist-cnn, mobilenet-tiny),
// sorted: the ones that train on 28x28x1 images in seconds, which the tests
// of other packages build one by one. AllNames lists every network.
func Names() []string { return sortedNames(func(n network) bool { return n.small }) }

// Canonical returns the input shape (H, W, C) and class count a built-in
// network is defined for (224x224x3 and 1000 classes for the ImageNet
// networks, 32x32x3 and 10 for resnet20, 28x28x1 and 10 for the small
// ones); false for an unknown name.
func Canonical(name string) (in tensor.Shape, classes int, ok bool) {
	n, ok := networks[name]
	if !ok {
		return nil, 0, false
	}
	return n.in.Clone(), n.classes, true
}

// AllNames lists every built-in model name that Build and BuildWith accept,
// sorted: the small networks of Names and the real ones (mobilenet-v1,
// mobilenet-v2, resnet18, resnet20, resnet50, squeezenet).
func AllNames() []string { return sortedNames(func(n network) bool { return !n.seq }) }

// SequenceNames lists the built-in sequence networks (lstm-rowmnist,
// conv1d-rowmnist), sorted: they read a 28x28x1 image as 28 steps of 28
// features (Build, BuildWith and Canonical accept them) and go through
// training, QAT, conversion, float ONNX and TFLite export. AllNames leaves
// them out, because the tests that take every image network through the
// integer ONNX (QDQ) export cannot take the integer LSTM, which has no
// ONNX QDQ form (docs/DESIGN.md, Sequence layers).
func SequenceNames() []string { return sortedNames(func(n network) bool { return n.seq }) }

// sortedNames returns the sorted names of the networks keep accepts.
func sortedNames(keep func(network) bool) []string {
	var out []string
	for name, n := range networks {
		if keep(n) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Build returns the built-in model called name for per-sample input shape in
// (H, W, C) and the given number of classes, with weights initialised from
// seed.
func Build(name string, in tensor.Shape, classes int, seed uint64) (*nn.Model, error) {
	return BuildWith(name, in, classes, seed, Options{})
}

// BuildWith is Build with options, e.g. BuildWith("mobilenet-v2", in, 10,
// seed, Options{Alpha: 0.35}).
func BuildWith(name string, in tensor.Shape, classes int, seed uint64, o Options) (*nn.Model, error) {
	n, ok := networks[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (built-in models: %s)", name, strings.Join(append(AllNames(), SequenceNames()...), ", "))
	}
	alpha := o.Alpha
	switch {
	case alpha == 0:
		alpha = 1
	case !n.alpha && alpha != 1:
		return nil, fmt.Errorf("model %s has no width multiplier (alpha %v); only mobilenet-v1 and mobilenet-v2 have one", name, alpha)
	}
	if n.hidden == nil && len(o.Hidden) > 0 {
		return nil, fmt.Errorf("model %s has no hidden layer widths (%v); only mlp has them", name, o.Hidden)
	}
	var m *nn.Model
	var err error
	if n.hidden != nil {
		m, err = n.hidden(in, classes, o.Hidden)
	} else {
		m, err = n.build(in, classes, alpha)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	m.InitWeights(seed)
	return m, nil
}

// minInput is the smallest height and width the real networks accept: the
// minimum Keras applications enforce for MobileNet, MobileNetV2 and ResNet
// (obtain_input_shape's min_size=32), and the CIFAR images ResNet-20 was
// designed for. Each network's layers fit it.
const minInput = 32

// checkImage checks that in is an (H, W, C) image of at least
// minInput x minInput pixels.
func checkImage(in tensor.Shape) error {
	if len(in) != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return fmt.Errorf("the input must be an image shape (H, W, C), got %v", in)
	}
	if in[0] < minInput || in[1] < minInput {
		return fmt.Errorf("input %dx%dx%d is smaller than the network's minimum of %dx%d", in[0], in[1], in[2], minInput, minInput)
	}
	return nil
}

// checkAlpha checks a width multiplier: in (0, 4].
func checkAlpha(alpha float64) error {
	if !(alpha > 0 && alpha <= 4) { // also NaN
		return fmt.Errorf("alpha (width multiplier) %v must be in (0, 4]", alpha)
	}
	return nil
}

// conv returns a bias-free Conv2D (a BatchNormalization follows it).
func conv(filters, k, stride int, padding string) *nn.Conv2D {
	c := nn.NewConv2D(filters, k, k)
	c.Strides = [2]int{stride, stride}
	c.Padding = padding
	c.UseBias = false
	return c
}

// depthwise returns a bias-free 3x3 DepthwiseConv2D (a BatchNormalization
// follows it).
func depthwise(stride int, padding string) *nn.DepthwiseConv2D {
	dw := nn.NewDepthwiseConv2D(3, 3)
	dw.Strides = [2]int{stride, stride}
	dw.Padding = padding
	dw.UseBias = false
	return dw
}

// batchNorm returns a BatchNormalization with the given epsilon and
// momentum.
func batchNorm(eps, momentum float64) *nn.BatchNormalization {
	b := nn.NewBatchNormalization()
	b.Epsilon, b.Momentum = eps, momentum
	return b
}

// call names layer l and applies it to the nodes in (the real networks name
// their layers as Keras does, so that summaries compare line by line).
func call(name string, l nn.Layer, in ...*nn.Node) *nn.Node {
	l.SetName(name)
	return nn.Call(l, in...)
}

// finish makes the model from input x0 to output x and names it.
func finish(name string, x0, x *nn.Node) (*nn.Model, error) {
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{x})
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	return m, nil
}
