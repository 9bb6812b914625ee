package quantize

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// TestAxisSpan checks per-axis quantization over two axes: a depthwise
// kernel (KH,KW,C,M) quantized per output channel c*M+m equals the kernel
// viewed as (KH,KW,C*M) quantized along its last axis; and the spec's
// checks.
func TestAxisSpan(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	shape := tensor.Shape{3, 3, 4, 2}
	x := randTensor(r, shape...)
	for _, kind := range []string{KindLastValue, KindLSQ} {
		sp := Spec{Kind: kind, Bits: 8, Narrow: true, Symmetric: true, PerAxis: true, Axis: 2, AxisSpan: 2}
		q, err := sp.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Build("k", shape); err != nil {
			t.Fatal(err)
		}
		y := tensor.New(shape...)
		q.Forward(&nn.Context{Training: true}, x, y)
		s, zp := q.Scales()
		if len(s) != 8 {
			t.Fatalf("%s: %d scales, want C*M = 8", kind, len(s))
		}
		want := make([]float32, len(x.Data))
		FakeQuantPerAxis(x.Data, want, []int{3, 3, 8}, 2, s, zp, 8, true)
		for i := range want {
			if y.Data[i] != want[i] {
				t.Fatalf("%s: value %d is %v, want %v (per channel of the (KH,KW,C*M) view)", kind, i, y.Data[i], want[i])
			}
		}
		// Each (c, m) has its own scale: the largest |w| of the channel
		// maps to 127.
		for ch := 0; ch < 8; ch++ {
			m := float32(0)
			for i := ch; i < len(x.Data); i += 8 {
				m = max(m, abs32(x.Data[i]))
			}
			if kind == KindLastValue && abs32(m/s[ch]-127) > 1e-3 {
				t.Errorf("channel %d: max %v / scale %v is not 127", ch, m, s[ch])
			}
		}
	}
	for _, bad := range []Spec{
		{Kind: KindLastValue, Bits: 8, PerAxis: true, Axis: 2, AxisSpan: -1},
		{Kind: KindLastValue, Bits: 8, Axis: 2, AxisSpan: 2},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	q, _ := Spec{Kind: KindLastValue, Bits: 8, PerAxis: true, Axis: 3, AxisSpan: 2}.New()
	if err := q.Build("k", shape); err == nil {
		t.Error("axis 3 with span 2 of a rank-4 shape accepted")
	}
}

func abs32(v float32) float32 { return max(v, -v) }

// geometryModel is a float model with the new convolution geometry: a
// dilated grouped Conv2D with BN and ReLU (folded), a DepthwiseConv2D with
// multiplier 2 and stride 2 (wrapped), another with BN (folded), a grouped
// 1x1 Conv2D (wrapped), then a classifier.
func geometryModel(t *testing.T) *nn.Model {
	t.Helper()
	c1 := nn.NewConv2D(8, 3, 3)
	c1.Padding, c1.DilationRate = "same", [2]int{2, 2}
	c2 := nn.NewConv2D(8, 3, 3)
	c2.Padding, c2.Groups = "same", 2
	d1 := nn.NewDepthwiseConv2D(3, 3)
	d1.Padding, d1.Strides, d1.DepthMultiplier = "same", [2]int{2, 2}, 2
	d2 := nn.NewDepthwiseConv2D(3, 3)
	d2.Padding, d2.DepthMultiplier, d2.DilationRate = "same", 2, [2]int{2, 1}
	c3 := nn.NewConv2D(12, 1, 1)
	c3.Groups = 4
	m, err := nn.NewSequential(tensor.Shape{12, 12, 1},
		c1, nn.NewReLU(), c2, nn.NewBatchNormalization(), nn.NewReLU(),
		d1, nn.NewReLU(), d2, nn.NewBatchNormalization(), nn.NewReLU6(),
		c3, nn.NewReLU(), nn.NewGlobalAveragePooling2D(), nn.NewDense(4))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModelGeometry quantizes a model with the new geometry: the kernels
// are quantized per output channel (C*M for the depthwise kernels, wrapped
// or folded), every weighted layer is linked for exact inference, training
// runs, and the QAT model saves and loads with the same outputs.
func TestModelGeometry(t *testing.T) {
	qm, err := Model(geometryModel(t), WithFreezeBNAfter(3))
	if err != nil {
		t.Fatal(err)
	}
	wantScales := map[string]int{"conv2d": 8, "conv2d_1": 8, "depthwise_conv2d": 16, "depthwise_conv2d_1": 32, "conv2d_2": 12}
	for name, want := range wantScales {
		var wq Quantizer
		switch l := qm.Layer(name).(type) {
		case *QuantizeWrapper:
			wq = l.WeightQuantizer(l.kernelParam().Name)
		case *FoldedConvBN:
			wq = l.WeightQuant()
		default:
			t.Fatalf("%s: %T", name, l)
		}
		if s, _ := wq.Scales(); len(s) != want {
			t.Errorf("%s: %d weight scales, want %d", name, len(s), want)
		}
	}
	if n := Link(qm); n != len(wantScales)+1 { // and the Dense
		t.Errorf("%d layers linked, want %d", n, len(wantScales)+1)
	}
	x, y := imageData(64, 7)
	compileFit(t, qm, x, y, 3)
	path := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(path, qm); err != nil {
		t.Fatal(err)
	}
	back, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := qm.Predict(context.Background(), x, 16)
	if err != nil {
		t.Fatal(err)
	}
	b, err := back.Predict(context.Background(), x, 16)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("output %d: loaded %v, saved %v", i, b.Data[i], a.Data[i])
		}
	}
}
