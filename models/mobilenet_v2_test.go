package models

import (
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func TestMobileNetV2Architecture(t *testing.T) {
	m, err := Build("mobilenet-v2", tensor.Shape{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "mobilenetv2_1.00_224" {
		t.Errorf("model name %q", m.Name())
	}
	for name, want := range map[string]tensor.Shape{
		"Conv1":                   {112, 112, 32},
		"expanded_conv_depthwise": {112, 112, 32},
		"expanded_conv_project":   {112, 112, 16},
		"block_1_expand":          {112, 112, 96},
		"block_1_pad":             {113, 113, 96},
		"block_1_depthwise":       {56, 56, 96},
		"block_2_add":             {56, 56, 24},
		"block_10_project":        {14, 14, 96},
		"block_13_depthwise":      {7, 7, 576},
		"block_16_project":        {7, 7, 320},
		"Conv_1":                  {7, 7, 1280},
		"predictions":             {1000},
	} {
		if got := layerShape(t, m, name); !got.Equal(want) {
			t.Errorf("%s: output %v, want %v", name, got, want)
		}
	}
	if m.Layer("block_0_expand") != nil {
		t.Error("the first block (expansion 1) has an expansion convolution")
	}
	// Keras's MobileNetV2 has 10 residual Adds (blocks 2, 4, 5, 7, 8, 9,
	// 11, 12, 14, 15), 4 stride-2 blocks, no dropout and no bias.
	for typ, want := range map[string]int{"Add": 10, "ZeroPadding2D": 4, "DepthwiseConv2D": 17, "Conv2D": 35, "BatchNormalization": 52, "ReLU6": 35, "Dropout": 0, "Dense": 1} {
		if got := countLayers(m, typ); got != want {
			t.Errorf("%d %s layers, want %d", got, typ, want)
		}
	}
	for _, id := range []string{"2", "4", "5", "7", "8", "9", "11", "12", "14", "15"} {
		if m.Layer("block_"+id+"_add") == nil {
			t.Errorf("block %s has no residual Add", id)
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
		case *nn.BatchNormalization:
			if l.Epsilon != 1e-3 || l.Momentum != 0.999 {
				t.Errorf("%s: epsilon %v momentum %v, want 1e-3 and 0.999", l.Name(), l.Epsilon, l.Momentum)
			}
		}
	}
}

func TestMakeDivisible(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want int
	}{{32, 32}, {11.2, 16}, {5, 8}, {12, 16}, {20, 24}, {41.6, 40}, {44.8, 48}, {90, 88}, {100, 104}, {1792, 1792}, {0.1, 8}} {
		if got := makeDivisible(c.v); got != c.want {
			t.Errorf("makeDivisible(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestMobileNetV2Alpha checks Keras's channel rounding for each published
// alpha and the multiply-adds of Keras's table (from TF-slim's, millions
// at 224x224).
func TestMobileNetV2Alpha(t *testing.T) {
	for _, c := range []struct {
		alpha                   float64
		conv1, first, last, top int // Conv1, block 0 and block 16 projections, Conv_1
		macs                    int
	}{
		{0.35, 16, 8, 112, 1280, 59},
		{0.5, 16, 8, 160, 1280, 97},
		{0.75, 24, 16, 240, 1280, 209},
		{1.0, 32, 16, 320, 1280, 300},
		{1.3, 40, 24, 416, 1664, 509},
		{1.4, 48, 24, 448, 1792, 582},
	} {
		m, err := BuildWith("mobilenet-v2", tensor.Shape{224, 224, 3}, 1000, 1, Options{Alpha: c.alpha})
		if err != nil {
			t.Fatal(err)
		}
		got := [4]int{layerShape(t, m, "Conv1")[2], layerShape(t, m, "expanded_conv_project")[2], layerShape(t, m, "block_16_project")[2], layerShape(t, m, "Conv_1")[2]}
		if want := [4]int{c.conv1, c.first, c.last, c.top}; got != want {
			t.Errorf("alpha %v: channels of Conv1, blocks 0 and 16 and Conv_1 %v, want %v", c.alpha, got, want)
		}
		if n := macs(m); !nearPublished(n, c.macs, 1e6) {
			t.Errorf("alpha %v: %d multiply-adds, Keras's table gives %d million", c.alpha, n, c.macs)
		}
	}
}

// TestCorrectPadIsSame checks that Keras's correct_pad before a 'valid'
// stride-2 3x3 depthwise convolution computes what 'same' padding does,
// on even and odd sizes.
func TestCorrectPadIsSame(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, hw := range [][2]int{{5, 5}, {6, 6}, {7, 8}, {8, 7}, {9, 10}} {
		in := tensor.Shape{hw[0], hw[1], 2}
		x0 := nn.Input(in...)
		pad := correctPad(in)
		valid := depthwise(2, "valid")
		a, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{nn.Call(valid, nn.Call(pad, x0))})
		if err != nil {
			t.Fatal(err)
		}
		x1 := nn.Input(in...)
		same := depthwise(2, "same")
		b, err := nn.NewModel([]*nn.Node{x1}, []*nn.Node{nn.Call(same, x1)})
		if err != nil {
			t.Fatal(err)
		}
		a.InitWeights(1)
		copy(same.Params()[0].Value.Data, valid.Params()[0].Value.Data)
		x := tensor.New(append([]int{2}, in...)...)
		for i := range x.Data {
			x.Data[i] = r.Float32()*2 - 1
		}
		ya, err := a.Forward(&nn.Context{}, x)
		if err != nil {
			t.Fatal(err)
		}
		yb, err := b.Forward(&nn.Context{}, x)
		if err != nil {
			t.Fatal(err)
		}
		if !ya[0].Shape.Equal(yb[0].Shape) || !slicesEqual(ya[0].Data, yb[0].Data) {
			t.Errorf("%v: correct_pad %v + valid differs from same (%v vs %v)", in, pad.Padding, ya[0].Shape, yb[0].Shape)
		}
	}
}

func TestMobileNetV2Trains(t *testing.T) {
	m, err := BuildWith("mobilenet-v2", tensor.Shape{32, 32, 3}, 4, 1, Options{Alpha: 0.35})
	if err != nil {
		t.Fatal(err)
	}
	x, y := trainable(t, m)
	qm := qatStep(t, m, x, y)
	checkConverts(t, qm, x)
}
