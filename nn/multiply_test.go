package nn

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/tensor"
)

func TestMultiplyGradCheck(t *testing.T) {
	s := tensor.Shape{2, 3, 4}
	t.Run("same shape", func(t *testing.T) { gradCheck(t, NewMultiply(), 3, true, 1e-2, 2e-2, s, s, s) })
	t.Run("squeeze-excitation", func(t *testing.T) { gradCheck(t, NewMultiply(), 3, true, 1e-2, 2e-2, s, tensor.Shape{1, 1, 4}) })
	t.Run("channels", func(t *testing.T) { gradCheck(t, NewMultiply(), 3, true, 1e-2, 2e-2, tensor.Shape{4}, s) })
	t.Run("mixed", func(t *testing.T) {
		gradCheck(t, NewMultiply(), 2, true, 1e-2, 2e-2, tensor.Shape{2, 1, 4}, tensor.Shape{3, 1}, tensor.Shape{1})
	})
}

// TestMultiplyValues compares Forward with the product written out with
// explicit broadcasting, and Backward's broadcast gradient with the sum
// over the broadcast positions.
func TestMultiplyValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	m := NewMultiply()
	out, err := m.Build([]tensor.Shape{{2, 3, 4}, {1, 1, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Equal(tensor.Shape{2, 3, 4}) {
		t.Fatalf("output shape %v, want (2, 3, 4)", out)
	}
	x := randTensorC(r, 0, 1, 2, 2, 3, 4)
	s := randTensorC(r, 0, 1, 2, 1, 1, 4)
	y := m.Forward(&Context{Training: true}, []*tensor.Tensor{x, s})
	for i, v := range x.Data {
		b, c := i/24, i%4
		if want := v * s.Data[b*4+c]; y.Data[i] != want {
			t.Fatalf("out[%d] = %v, want %v", i, y.Data[i], want)
		}
	}
	dy := randTensorC(r, 0, 1, 2, 2, 3, 4)
	d := m.Backward(&Context{Training: true}, dy)
	for i := range x.Data {
		b, c := i/24, i%4
		if want := dy.Data[i] * s.Data[b*4+c]; d[0].Data[i] != want {
			t.Fatalf("dx[%d] = %v, want %v", i, d[0].Data[i], want)
		}
	}
	if !d[1].Shape.Equal(tensor.Shape{2, 1, 1, 4}) {
		t.Fatalf("ds shape %v, want (2, 1, 1, 4)", d[1].Shape)
	}
	for b := 0; b < 2; b++ {
		for c := 0; c < 4; c++ {
			var want float32
			for p := 0; p < 6; p++ {
				i := b*24 + p*4 + c
				want += dy.Data[i] * x.Data[i]
			}
			if got := d[1].Data[b*4+c]; got != want {
				t.Fatalf("ds[%d,%d] = %v, want %v", b, c, got, want)
			}
		}
	}
}

func TestMultiplyErrors(t *testing.T) {
	_, err := NewMultiply().Build([]tensor.Shape{{3}})
	wantErrC(t, err, "at least 2")
	_, err = NewMultiply().Build([]tensor.Shape{{3, 4}, {3, 4}, {4, 3}})
	wantErrC(t, err, "input 2", "broadcast")
	ctor, _ := lookup("Multiply")
	_, err = ctor("multiply", json.RawMessage(`{"axis": 1}`))
	wantErrC(t, err, "axis")
	m := NewMultiply()
	m.SetName("multiply")
	roundTripC(t, m)
	if DefaultName("Multiply") != "multiply" {
		t.Errorf("default name %q", DefaultName("Multiply"))
	}
}

// TestSummarySqueezeExcitation builds a MobileNetV3-style block (hard_swish,
// a squeeze-and-excitation branch with hard_sigmoid and a broadcast
// Multiply, GlobalMaxPooling2D) and checks its Summary.
func TestSummarySqueezeExcitation(t *testing.T) {
	act := func(f string) Layer {
		a, err := NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	x := Input(6, 6, 4)
	h := Call(act("hard_swish"), Call(NewConv2D(8, 3, 3), x))
	s := Call(NewGlobalAveragePooling2D(), h)
	s = Call(act("hard_sigmoid"), Call(NewDense(8), Call(NewReLU(), Call(NewDense(2), s))))
	y := Call(NewMultiply(), h, Call(NewReshape(1, 1, 8), s))
	y = Call(NewGlobalMaxPooling2D(), Call(act("silu"), y))
	m := must(t)(NewModel([]*Node{x}, []*Node{y}))
	want := `Model: "model"
_________________________________________________________________________________________________________________________
 Layer (type)                                        Output Shape             Param #   Connected to
=========================================================================================================================
 input_1 (InputLayer)                                (None, 6, 6, 4)          0         []
 conv2d (Conv2D)                                     (None, 4, 4, 8)          296       input_1[0][0]
 activation (Activation)                             (None, 4, 4, 8)          0         conv2d[0][0]
 global_average_pooling2d (GlobalAveragePooling2D)   (None, 8)                0         activation[0][0]
 dense (Dense)                                       (None, 2)                18        global_average_pooling2d[0][0]
 re_lu (ReLU)                                        (None, 2)                0         dense[0][0]
 dense_1 (Dense)                                     (None, 8)                24        re_lu[0][0]
 activation_1 (Activation)                           (None, 8)                0         dense_1[0][0]
 reshape (Reshape)                                   (None, 1, 1, 8)          0         activation_1[0][0]
 multiply (Multiply)                                 (None, 4, 4, 8)          0         activation[0][0]
                                                                                        reshape[0][0]
 activation_2 (Activation)                           (None, 4, 4, 8)          0         multiply[0][0]
 global_max_pooling2d (GlobalMaxPooling2D)           (None, 8)                0         activation_2[0][0]
=========================================================================================================================
Total params: 338
Trainable params: 338
Non-trainable params: 0
_________________________________________________________________________________________________________________________
`
	if got := m.Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant:\n%s", got, want)
	}
}
