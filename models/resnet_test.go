package models

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// checkResNetLayers checks the layer output shapes, the number of
// residual Adds and of projection shortcuts, and that every convolution is
// bias-free with a BatchNormalization of Keras's ResNet epsilon.
func checkResNetLayers(t *testing.T, m *nn.Model, shapes map[string]tensor.Shape, adds, projections int) {
	t.Helper()
	for name, want := range shapes {
		if got := layerShape(t, m, name); !got.Equal(want) {
			t.Errorf("%s: %s output %v, want %v", m.Name(), name, got, want)
		}
	}
	if got := countLayers(m, "Add"); got != adds {
		t.Errorf("%s: %d residual Adds, want %d", m.Name(), got, adds)
	}
	proj := 0
	for _, l := range m.Layers() {
		switch l := l.(type) {
		case *nn.Conv2D:
			if strings.HasSuffix(l.Name(), "_0_conv") {
				proj++
				if l.KernelSize != [2]int{1, 1} {
					t.Errorf("%s: projection %s is %v", m.Name(), l.Name(), l.KernelSize)
				}
			}
			if l.UseBias {
				t.Errorf("%s: %s has a bias", m.Name(), l.Name())
			}
			if l.Strides[0] == 2 && l.KernelSize[0] > 1 && l.Padding != "valid" {
				t.Errorf("%s: %s has stride 2 and padding %q", m.Name(), l.Name(), l.Padding)
			}
		case *nn.ZeroPadding2D:
			p := l.Padding[0]
			if l.Padding != [4]int{p, p, p, p} {
				t.Errorf("%s: %s pads %v, not the same on every side", m.Name(), l.Name(), l.Padding)
			}
		case *nn.BatchNormalization:
			if l.Epsilon != 1.001e-5 {
				t.Errorf("%s: %s epsilon %v", m.Name(), l.Name(), l.Epsilon)
			}
		}
	}
	if proj != projections {
		t.Errorf("%s: %d projection shortcuts, want %d", m.Name(), proj, projections)
	}
	if got := countLayers(m, "BatchNormalization"); got != countLayers(m, "Conv2D") {
		t.Errorf("%s: %d BatchNormalization layers for %d convolutions", m.Name(), got, countLayers(m, "Conv2D"))
	}
}

func TestResNet18Architecture(t *testing.T) {
	m, err := Build("resnet18", tensor.Shape{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkResNetLayers(t, m, map[string]tensor.Shape{
		"conv1_pad":           {230, 230, 3},
		"conv1_conv":          {112, 112, 64},
		"pool1_pad":           {114, 114, 64},
		"pool1_pool":          {56, 56, 64},
		"conv2_block2_out":    {56, 56, 64},
		"conv3_block1_0_conv": {28, 28, 128},
		"conv3_block1_1_pad":  {58, 58, 64},
		"conv3_block1_1_conv": {28, 28, 128},
		"conv4_block2_out":    {14, 14, 256},
		"conv5_block2_out":    {7, 7, 512},
		"avg_pool":            {512},
		"predictions":         {1000},
	}, 8, 3)
	if got := countLayers(m, "Conv2D"); got != 20 {
		t.Errorf("%d convolutions, want 20 (17 + 3 projections)", got)
	}
	// Odd and unequal sizes: every stride-2 stage gives ceil(h/2).
	m, err = Build("resnet18", tensor.Shape{33, 96, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkResNetLayers(t, m, map[string]tensor.Shape{
		"conv1_conv":       {17, 48, 64},
		"pool1_pool":       {9, 24, 64},
		"conv3_block2_out": {5, 12, 128},
		"conv4_block2_out": {3, 6, 256},
		"conv5_block2_out": {2, 3, 512},
	}, 8, 3)
}

func TestResNet50Architecture(t *testing.T) {
	m, err := Build("resnet50", tensor.Shape{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkResNetLayers(t, m, map[string]tensor.Shape{
		"conv1_conv":          {112, 112, 64},
		"pool1_pool":          {56, 56, 64},
		"conv2_block1_0_conv": {56, 56, 256},
		"conv2_block3_out":    {56, 56, 256},
		// v1.5: the first 1x1 convolution keeps the size, the 3x3
		// convolution has the stride.
		"conv3_block1_1_conv": {56, 56, 128},
		"conv3_block1_2_conv": {28, 28, 128},
		"conv3_block1_3_conv": {28, 28, 512},
		"conv3_block4_out":    {28, 28, 512},
		"conv4_block6_out":    {14, 14, 1024},
		"conv5_block3_out":    {7, 7, 2048},
		"avg_pool":            {2048},
		"predictions":         {1000},
	}, 16, 4)
	if got := countLayers(m, "Conv2D"); got != 53 {
		t.Errorf("%d convolutions, want 53 (49 + 4 projections)", got)
	}
}

func TestResNet20Architecture(t *testing.T) {
	m, err := Build("resnet20", tensor.Shape{32, 32, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkResNetLayers(t, m, map[string]tensor.Shape{
		"conv1_conv":          {32, 32, 16},
		"conv2_block3_out":    {32, 32, 16},
		"conv3_block1_0_conv": {16, 16, 32},
		"conv3_block1_2_conv": {16, 16, 32},
		"conv3_block3_out":    {16, 16, 32},
		"conv4_block3_out":    {8, 8, 64},
		"avg_pool":            {64},
		"predictions":         {10},
	}, 9, 2)
	// 6n+2 = 20 weighted layers: 19 convolutions on the main path and
	// the Dense, plus the 2 projections.
	if got := countLayers(m, "Conv2D"); got != 21 {
		t.Errorf("%d convolutions, want 21 (19 + 2 projections)", got)
	}
}

// testResNetTrains trains the ResNet name at 32x32 one step, float and
// QAT, and converts it.
func testResNetTrains(t *testing.T, name string) {
	m, err := Build(name, tensor.Shape{32, 32, 3}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, y := trainable(t, m)
	qm := qatStep(t, m, x, y)
	checkConverts(t, qm, x)
}

func TestResNet18Trains(t *testing.T) { testResNetTrains(t, "resnet18") }

func TestResNet50Trains(t *testing.T) { testResNetTrains(t, "resnet50") }

func TestResNet20Trains(t *testing.T) { testResNetTrains(t, "resnet20") }
