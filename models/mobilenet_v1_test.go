package models

import (
	"math"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func TestMobileNetV1Architecture(t *testing.T) {
	m, err := Build("mobilenet-v1", tensor.Shape{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "mobilenet_1.00_224" {
		t.Errorf("model name %q", m.Name())
	}
	for name, want := range map[string]tensor.Shape{
		"conv1":           {112, 112, 32},
		"conv_pw_1_relu":  {112, 112, 64},
		"conv_pad_2":      {113, 113, 64},
		"conv_dw_2":       {56, 56, 64},
		"conv_pw_2":       {56, 56, 128},
		"conv_pw_11_relu": {14, 14, 512},
		"conv_dw_12":      {7, 7, 512},
		"conv_pw_13_relu": {7, 7, 1024},
		"dropout":         {1024},
		"predictions":     {1000},
	} {
		if got := layerShape(t, m, name); !got.Equal(want) {
			t.Errorf("%s: output %v, want %v", name, got, want)
		}
	}
	for typ, want := range map[string]int{"Conv2D": 14, "DepthwiseConv2D": 13, "BatchNormalization": 27, "ReLU6": 27, "ZeroPadding2D": 4, "Dropout": 1, "Dense": 1} {
		if got := countLayers(m, typ); got != want {
			t.Errorf("%d %s layers, want %d", got, typ, want)
		}
	}
	for _, l := range m.Layers() {
		switch l := l.(type) {
		case *nn.Conv2D:
			if l.UseBias {
				t.Errorf("%s has a bias", l.Name())
			}
		case *nn.DepthwiseConv2D:
			if l.UseBias {
				t.Errorf("%s has a bias", l.Name())
			}
			if s := l.Strides[0]; (s == 2) != (l.Padding == "valid") {
				t.Errorf("%s: stride %d with padding %q", l.Name(), s, l.Padding)
			}
		case *nn.ZeroPadding2D:
			if l.Padding != [4]int{0, 1, 0, 1} {
				t.Errorf("%s: padding %v, want Keras's ((0, 1), (0, 1))", l.Name(), l.Padding)
			}
		case *nn.BatchNormalization:
			if l.Epsilon != 1e-3 || l.Momentum != 0.99 {
				t.Errorf("%s: epsilon %v momentum %v, want Keras's defaults", l.Name(), l.Epsilon, l.Momentum)
			}
		case *nn.Dropout:
			if l.Rate != 1e-3 {
				t.Errorf("dropout rate %v, want 1e-3", l.Rate)
			}
		}
	}
	// On an odd size Keras's fixed ((0, 1), (0, 1)) padding gives
	// floor(h/2), not 'same''s ceil(h/2).
	m, err = Build("mobilenet-v1", tensor.Shape{225, 225, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := layerShape(t, m, "conv_dw_2"); !got.Equal(tensor.Shape{56, 56, 64}) {
		t.Errorf("225x225: conv_dw_2 output %v, want 56x56x64", got)
	}
}

// TestMobileNetV1Alpha checks the width multiplier: Keras's truncated
// int(c * alpha) channels, and the paper's multiply-adds and parameters
// (Howard et al. 2017, tables 6 and 7: millions, parameters to 0.1M,
// which count the trainable ones) for each published alpha and
// resolution.
func TestMobileNetV1Alpha(t *testing.T) {
	for _, c := range []struct {
		alpha      float64
		size       int
		conv1, pw  int // channels of conv1 and conv_pw_13
		macs       int // millions
		params     float64
		checkParam bool
	}{
		{1, 224, 32, 1024, 569, 4.2, true},
		{0.75, 224, 24, 768, 325, 2.6, true},
		{0.5, 224, 16, 512, 149, 1.3, true},
		{0.25, 224, 8, 256, 41, 0.5, true},
		{1, 192, 32, 1024, 418, 0, false},
		{1, 160, 32, 1024, 290, 0, false},
		{1, 128, 32, 1024, 186, 0, false},
		{0.3, 224, 9, 307, 0, 0, false}, // int(9.6) = 9, int(307.2) = 307
	} {
		m, err := BuildWith("mobilenet-v1", tensor.Shape{c.size, c.size, 3}, 1000, 1, Options{Alpha: c.alpha})
		if err != nil {
			t.Fatal(err)
		}
		if got := layerShape(t, m, "conv1")[2]; got != c.conv1 {
			t.Errorf("alpha %v: conv1 has %d channels, want %d", c.alpha, got, c.conv1)
		}
		if got := layerShape(t, m, "conv_pw_13")[2]; got != c.pw {
			t.Errorf("alpha %v: conv_pw_13 has %d channels, want %d", c.alpha, got, c.pw)
		}
		if n := macs(m); c.macs != 0 && !nearPublished(n, c.macs, 1e6) {
			t.Errorf("alpha %v at %d: %d multiply-adds, the paper gives %d million", c.alpha, c.size, n, c.macs)
		}
		tr, _ := countParams(m)
		if c.checkParam && math.Round(float64(tr)/1e5)/10 != c.params {
			t.Errorf("alpha %v: %d trainable parameters, the paper gives %.1f million", c.alpha, tr, c.params)
		}
	}
}

func TestMobileNetV1Trains(t *testing.T) {
	m, err := BuildWith("mobilenet-v1", tensor.Shape{32, 32, 3}, 4, 1, Options{Alpha: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	x, y := trainable(t, m)
	qm := qatStep(t, m, x, y)
	checkConverts(t, qm, x)
}
