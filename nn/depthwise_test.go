package nn

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestDepthwiseConv2DGradients(t *testing.T) {
	for _, cc := range convCases {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v_bias%v", cc, bias), func(t *testing.T) {
				l := NewDepthwiseConv2D(cc.kh, cc.kw)
				l.Strides = [2]int{cc.s, cc.s}
				l.Padding, l.UseBias = cc.padding, bias
				gradCheck(t, l, 2, true, 1e-2, 2e-2, tensor.Shape{cc.h, cc.w, cc.c})
			})
		}
	}
	// More images than the 16 weight-gradient chunks.
	l := NewDepthwiseConv2D(3, 3)
	l.Padding = "same"
	gradCheck(t, l, 19, true, 1e-2, 2e-2, tensor.Shape{4, 3, 2})
}

func TestDepthwiseConv2DForwardNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, cc := range append([]convCase{{11, 9, 8, 5, 3, 2, "same"}}, convCases...) {
		l := NewDepthwiseConv2D(cc.kh, cc.kw)
		l.Strides, l.Padding = [2]int{cc.s, cc.s}, cc.padding
		if _, err := l.Build([]tensor.Shape{{cc.h, cc.w, cc.c}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Params() {
			for i := range p.Value.Data {
				p.Value.Data[i] = float32(r.NormFloat64())
			}
		}
		for _, n := range []int{3, 1} { // reuse with a smaller batch
			x := convRandTensor(r, n, cc.h, cc.w, cc.c)
			out := l.Forward(&Context{}, []*tensor.Tensor{x})
			want := convNaive(x, l.DepthwiseKernel.Value.Data, l.Bias.Value.Data, cc.c, cc.kh, cc.kw, cc.s, cc.s, cc.padding, true)
			convCheckClose(t, fmt.Sprint(cc, " batch ", n), out.Data, want, 1e-4)
		}
	}
}

func TestDepthwiseConv2DThreads(t *testing.T) {
	l := NewDepthwiseConv2D(3, 3)
	l.Strides, l.Padding = [2]int{2, 2}, "same"
	convRunTwice(t, l, tensor.Shape{9, 10, 24}, 21)
}

func TestDepthwiseConv2DErrors(t *testing.T) {
	l := NewDepthwiseConv2D(3, 3)
	l.SetName("dw_1")
	l.DepthMultiplier = 0
	if _, err := l.Build([]tensor.Shape{{5, 5, 4}}); err == nil || !strings.Contains(err.Error(), "depth_multiplier must be positive") {
		t.Errorf("depth multiplier 0: %v", err)
	}
	l.DepthMultiplier = 1
	l.DilationRate, l.Strides = [2]int{2, 2}, [2]int{2, 2}
	if _, err := l.Build([]tensor.Shape{{9, 9, 4}}); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("dilation with strides: %v", err)
	}
	l.Strides = [2]int{1, 1}
	if _, err := l.Build([]tensor.Shape{{9, 4, 4}}); err == nil || !strings.Contains(err.Error(), "dilated 2x2 (5x5)") {
		t.Errorf("dilated window larger than the input: %v", err)
	}
	l.DilationRate = [2]int{1, 1}
	if _, err := l.Build([]tensor.Shape{{5, 2, 4}}); err == nil || err.Error() != `dw_1: input (5, 2, 4) is smaller than kernel 3x3 with padding "valid"` {
		t.Errorf("small input: %v", err)
	}
	l.Padding = "Same"
	if _, err := l.Build([]tensor.Shape{{5, 5, 4}}); err == nil || !strings.Contains(err.Error(), "padding") {
		t.Errorf("bad padding: %v", err)
	}
	ctor, _ := lookup("DepthwiseConv2D")
	if _, err := ctor("d", json.RawMessage(`{"kernel_size":[3,3],"depth_multiplier":-4}`)); err == nil {
		t.Error("depth_multiplier -4 accepted")
	}
}

func TestDepthwiseConv2DConfig(t *testing.T) {
	l := NewDepthwiseConv2D(3, 5)
	l.Strides, l.Padding, l.UseBias = [2]int{2, 2}, "same", false
	raw, _ := json.Marshal(l.Config())
	if want := `{"kernel_size":[3,5],"strides":[2,2],"padding":"same","depth_multiplier":1,"use_bias":false}`; string(raw) != want {
		t.Errorf("config %s, want %s", raw, want)
	}
	convRoundTrip(t, l)
	out, err := l.Build([]tensor.Shape{{7, 7, 6}})
	if err != nil || !out.Equal(tensor.Shape{4, 4, 6}) {
		t.Fatalf("Build: %v, %v", out, err)
	}
	if ps := l.Params(); len(ps) != 1 || ps[0].Name != "depthwise_kernel" || !ps[0].Value.Shape.Equal(tensor.Shape{3, 5, 6, 1}) {
		t.Errorf("params %v", ps)
	}
}
