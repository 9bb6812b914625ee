package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

func TestSqueezeNetArchitecture(t *testing.T) {
	m, err := Build("squeezenet", tensor.Shape{224, 224, 3}, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]tensor.Shape{
		"conv1":                {111, 111, 64},
		"pool1":                {55, 55, 64},
		"fire2_squeeze1x1":     {55, 55, 16},
		"fire2_expand1x1":      {55, 55, 64},
		"fire2_expand3x3":      {55, 55, 64},
		"fire2_concat":         {55, 55, 128},
		"pool3":                {27, 27, 128},
		"fire5_concat":         {27, 27, 256},
		"pool5":                {13, 13, 256},
		"fire7_concat":         {13, 13, 384},
		"fire9_concat":         {13, 13, 512},
		"drop9":                {13, 13, 512},
		"conv10":               {13, 13, 1000},
		"relu_conv10":          {13, 13, 1000},
		"pool10":               {1000},
		"fire9_squeeze1x1":     {13, 13, 64},
		"fire9_expand3x3":      {13, 13, 256},
		"fire9_expand3x3_relu": {13, 13, 256},
	} {
		if got := layerShape(t, m, name); !got.Equal(want) {
			t.Errorf("%s: output %v, want %v", name, got, want)
		}
	}
	// At 224 every pooled map has an odd size: no ceil-mode padding.
	for typ, want := range map[string]int{"Conv2D": 26, "ReLU": 26, "Concatenate": 8, "MaxPooling2D": 3, "ZeroPadding2D": 0, "Dropout": 1, "BatchNormalization": 0, "Dense": 0} {
		if got := countLayers(m, typ); got != want {
			t.Errorf("%d %s layers, want %d", got, typ, want)
		}
	}
	for _, l := range m.Layers() {
		switch l := l.(type) {
		case *nn.Conv2D:
			if !l.UseBias {
				t.Errorf("%s has no bias", l.Name())
			}
		case *nn.Dropout:
			if l.Rate != 0.5 {
				t.Errorf("dropout rate %v", l.Rate)
			}
		}
	}
	// At 34x34 conv1 gives an even size (16): ceil mode pads, and each
	// pool gives ceil((h-3)/2)+1 (floor would give 7, 3, 1).
	m, err = Build("squeezenet", tensor.Shape{34, 34, 3}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]tensor.Shape{
		"conv1":     {16, 16, 64},
		"pool1_pad": {17, 17, 64},
		"pool1":     {8, 8, 64},
		"pool3":     {4, 4, 128},
		"pool5":     {2, 2, 256},
		"pool10":    {10},
	} {
		if got := layerShape(t, m, name); !got.Equal(want) {
			t.Errorf("34x34: %s output %v, want %v", name, got, want)
		}
	}
}

// TestCeilMaxPool checks ceilMaxPool against a direct ceil-mode 3x3
// stride-2 max pool (a window may overhang the bottom and right edges and
// takes the maximum of the cells inside) on non-negative inputs of even and
// odd sizes.
func TestCeilMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, hw := range [][2]int{{6, 7}, {7, 6}, {8, 8}, {9, 9}, {4, 5}} {
		h, w, c := hw[0], hw[1], 2
		x0 := nn.Input(h, w, c)
		m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{ceilMaxPool(x0, "pool")})
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(1, h, w, c)
		for i := range x.Data {
			x.Data[i] = max(0, r.Float32()*2-1) // ReLU outputs
		}
		out, err := m.Forward(&nn.Context{}, x)
		if err != nil {
			t.Fatal(err)
		}
		ceilOut := func(n int) int { return int(math.Ceil(float64(n-3)/2)) + 1 }
		oh, ow := ceilOut(h), ceilOut(w)
		if want := (tensor.Shape{1, oh, ow, c}); !out[0].Shape.Equal(want) {
			t.Fatalf("%dx%d: output %v, want %v", h, w, out[0].Shape, want)
		}
		for i := range oh {
			for j := range ow {
				for ch := range c {
					best := float32(math.Inf(-1))
					for di := range 3 {
						for dj := range 3 {
							if y, z := 2*i+di, 2*j+dj; y < h && z < w {
								best = max(best, x.Data[(y*w+z)*c+ch])
							}
						}
					}
					if got := out[0].Data[(i*ow+j)*c+ch]; got != best {
						t.Errorf("%dx%d: out[%d,%d,%d] = %v, want %v", h, w, i, j, ch, got, best)
					}
				}
			}
		}
	}
}

func TestSqueezeNetTrains(t *testing.T) {
	m, err := Build("squeezenet", tensor.Shape{32, 32, 3}, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, y := trainable(t, m)
	qm := qatStep(t, m, x, y)
	// Every convolution has a bias and a ReLU and no BN: the QAT model
	// computes them exactly as the integer engine (the ReLU fused).
	checkConverts(t, qm, x)
}
