package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestSeparableConv2DGradients(t *testing.T) {
	for _, cc := range convCases {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v_bias%v", cc, bias), func(t *testing.T) {
				l := NewSeparableConv2D(5, cc.kh, cc.kw)
				l.Strides = [2]int{cc.s, cc.s}
				l.Padding, l.UseBias = cc.padding, bias
				gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{cc.h, cc.w, cc.c})
			})
		}
	}
}

// TestSeparableConv2DSplit checks the forward pass against the naive
// depthwise then pointwise convolutions, and that Split's two layers compute
// the same function from copies of the weights.
func TestSeparableConv2DSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	l := NewSeparableConv2D(6, 3, 3)
	l.SetName("sep")
	l.Strides, l.Padding = [2]int{2, 2}, "same"
	out, err := l.Build([]tensor.Shape{{9, 8, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Equal(tensor.Shape{5, 4, 6}) {
		t.Fatalf("output %v", out)
	}
	names := ""
	for _, p := range l.Params() {
		names += p.Name + fmt.Sprint(p.Value.Shape) + " "
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(r.NormFloat64())
		}
	}
	if names != "depthwise_kernel(3, 3, 4, 1) pointwise_kernel(1, 1, 4, 6) bias(6,) " {
		t.Errorf("params: %s", names)
	}
	x := convRandTensor(r, 2, 9, 8, 4)
	got := l.Forward(&Context{}, []*tensor.Tensor{x}).Clone()

	mid := convNaive(x, l.DepthwiseKernel.Value.Data, nil, 4, 3, 3, 2, 2, "same", true)
	midT := tensor.New(2, 5, 4, 4)
	for i, v := range mid {
		midT.Data[i] = float32(v)
	}
	want := convNaive(midT, l.PointwiseKernel.Value.Data, l.Bias.Value.Data, 6, 1, 1, 1, 1, "valid", false)
	convCheckClose(t, "separable", got.Data, want, 1e-4)

	dw, pw := l.Split()
	if dw.Name() != "sep_depthwise" || pw.Name() != "sep_pointwise" || dw.UseBias || !pw.UseBias ||
		dw.Strides != l.Strides || dw.Padding != "same" || pw.KernelSize != [2]int{1, 1} {
		t.Fatalf("split layers: %+v %+v", dw.Config(), pw.Config())
	}
	h := dw.Forward(&Context{}, []*tensor.Tensor{x})
	o2 := pw.Forward(&Context{}, []*tensor.Tensor{h})
	if !convBits(got.Data, o2.Data) {
		t.Error("split layers compute another function")
	}
	dw.DepthwiseKernel.Value.Data[0] += 1
	pw.Kernel.Value.Data[0] += 1
	pw.Bias.Value.Data[0] += 1
	if again := l.Forward(&Context{}, []*tensor.Tensor{x}); !convBits(got.Data, again.Data) {
		t.Error("changing the split layers' weights changed the original")
	}
	// An unbuilt layer splits into unbuilt layers.
	if dw, pw := NewSeparableConv2D(3, 3, 3).Split(); dw.Params() != nil || pw.Params() != nil {
		t.Error("unbuilt split has params")
	}
}

func TestSeparableConv2DThreads(t *testing.T) {
	l := NewSeparableConv2D(7, 3, 3)
	l.Padding = "same"
	convRunTwice(t, l, tensor.Shape{9, 9, 8}, 5)
}

func TestSeparableConv2DConfig(t *testing.T) {
	l := NewSeparableConv2D(16, 3, 3)
	raw, _ := json.Marshal(l.Config())
	if want := `{"filters":16,"kernel_size":[3,3],"strides":[1,1],"padding":"valid","use_bias":true}`; string(raw) != want {
		t.Errorf("config %s, want %s", raw, want)
	}
	l.Padding, l.UseBias = "same", false
	convRoundTrip(t, l)
	l.SetName("sep_1")
	if _, err := l.Build([]tensor.Shape{{5, 5}}); err == nil || err.Error() != "sep_1: input shape (5, 5) must be rank 3 (height, width, channels)" {
		t.Errorf("rank 2: %v", err)
	}
	l.Filters = -1
	if _, err := l.Build([]tensor.Shape{{5, 5, 1}}); err == nil {
		t.Error("negative filters accepted")
	}
}
