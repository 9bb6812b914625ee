package lite

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/tensor"
)

// i8t is an int8 tensor description.
func i8t(name string, scale float32, zp int32, shape ...int) Tensor {
	return Tensor{Name: name, Shape: shape, DType: Int8, Scale: scale, ZeroPoint: zp, Bits: 8}
}

// runOp runs a one-op full-integer model on int8 inputs and returns the
// output codes.
func runOp(t *testing.T, ins []Tensor, out Tensor, op Op, data ...[]int8) []int8 {
	t.Helper()
	m := &Model{Name: "t", Tensors: append(append([]Tensor(nil), ins...), out)}
	for i := range ins {
		m.Inputs = append(m.Inputs, i)
		op.Inputs = append(op.Inputs, i)
	}
	op.Output = len(ins)
	m.Ops = []Op{op}
	m.Outputs = []int{op.Output}
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		if err := it.SetInputInt8(i, &tensor.Int8{Shape: append(tensor.Shape{1}, ins[i].Shape...), Data: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

func eq(t *testing.T, what string, got, want []int8) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestConv2DHand(t *testing.T) {
	// Input 3x3x1, zp 1, scale 0.5; kernel 2x2x1x2 scale 0.25 (channel 0)
	// and 0.5 (channel 1); output scale 0.25, zp -2; 'same'-style padding
	// bottom/right of 1, stride 2 -> 2x2x2.
	in := i8t("x", 0.5, 1, 3, 3, 1)
	out := i8t("y", 0.25, -2, 2, 2, 2)
	x := []int8{1, 2, 3, 4, 5, 6, 7, 8, 9} // reals 0, .5, 1, 1.5, 2, 2.5, 3, 3.5, 4
	w := []int8{1, 2, 0, -1, -1, 0, 2, 1}  // (kh,kw,c,oc): w00=(1,2) w01=(0,-1) w10=(-1,0) w11=(2,1)
	op := Op{Type: OpConv2D, Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}, Pad: [4]int{0, 1, 0, 1},
		WeightShape: tensor.Shape{2, 2, 1, 2}, WeightBits: 8, WeightScales: []float32{0.25, 0.5}, Weights: w, Bias: []int32{1, -2}}
	// Reference by hand in reals: ch0 weights (.25, 0, -.25, .5), bias 1*(0.5*0.25)=.125;
	// ch1 weights (1, -.5, 0, .5), bias -2*(.5*.5) = -.5.
	// pixel (0,0): x = 0, .5 / 1.5, 2  -> ch0 = 0 + 0 - .375 + 1 + .125 = .75 -> 3-2 = 1
	//                                    ch1 = 0 - .25 + 0 + 1 - .5 = .25 -> 1-2 = -1
	// pixel (0,1): x = 1, pad / 2.5, pad -> ch0 = .25 - .625 + .125 = -.25 -> -1-2 = -3
	//                                    ch1 = 1 - .5 = .5 -> 2-2 = 0
	// pixel (1,0): x = 3, 3.5 / pad      -> ch0 = .75 + .125 = .875 -> 3.5 -> 4 (even) -2 = 2
	//                                    ch1 = 3 - 1.75 - .5 = .75 -> 3-2 = 1
	// pixel (1,1): x = 4                 -> ch0 = 1 + .125 = 1.125 -> 4.5 -> 4 -2 = 2
	//                                    ch1 = 4 - .5 = 3.5 -> 14-2 = 12
	got := runOp(t, []Tensor{in}, out, op, x)
	eq(t, "conv", got, []int8{1, -1, -3, 0, 2, 1, 2, 12})
	// ReLU clamps at the zero point.
	op.Activation = "relu"
	got = runOp(t, []Tensor{in}, out, op, x)
	eq(t, "conv relu", got, []int8{1, -1, -2, 0, 2, 1, 2, 12})
}

func TestDepthwiseHand(t *testing.T) {
	in := i8t("x", 1, 0, 2, 2, 2)
	out := i8t("y", 1, 0, 1, 1, 2)
	x := []int8{1, 10, 2, 20, 3, 30, 4, 40}
	w := []int8{1, 1, 1, -1, 1, 1, 1, -1} // (kh,kw,c)
	op := Op{Type: OpDepthwiseConv2D, Kernel: [2]int{2, 2}, Strides: [2]int{1, 1},
		WeightShape: tensor.Shape{2, 2, 2}, WeightBits: 8, WeightScales: []float32{1, 0.5}, Weights: w}
	// ch0: 1+2+3+4 = 10; ch1: (10-20+30-40)*0.5 = -10.
	eq(t, "depthwise", runOp(t, []Tensor{in}, out, op, x), []int8{10, -10})
}

func TestFullyConnectedHand(t *testing.T) {
	in := i8t("x", 0.5, -1, 3)
	out := i8t("y", 1, 3, 2)
	x := []int8{-1, 1, 3} // reals 0, 1, 2
	w := []int8{1, 2, 3, 4, -5, 6}
	op := Op{Type: OpFullyConnected, WeightShape: tensor.Shape{3, 2}, WeightBits: 8, WeightScales: []float32{1}, Weights: w, Bias: []int32{1, 0}}
	// unit0: 0*1 + 1*3 + 2*(-5) + 1*0.5 = -6.5 -> -6 (even) + 3 = -3
	// unit1: 0*2 + 1*4 + 2*6 = 16 -> 19
	eq(t, "fc", runOp(t, []Tensor{in}, out, op, x), []int8{-3, 19})
	op.Activation = "relu6"
	eq(t, "fc relu6", runOp(t, []Tensor{in}, out, op, x), []int8{3, 9})
}

func TestAddConcatHand(t *testing.T) {
	a, b := i8t("a", 0.5, 0, 3), i8t("b", 0.25, 4, 3)
	out := i8t("y", 1, -1, 3)
	// reals a: 1, -0.5, 3.5; b: -1, 0.5, -0.5 -> 0, 0, 3 -> codes -1, -1, 2
	eq(t, "add", runOp(t, []Tensor{a, b}, out, Op{Type: OpAdd}, []int8{2, -1, 7}, []int8{0, 6, 2}), []int8{-1, -1, 2})
	// Concatenate requantizes to scale 1, zp -1: a 1, -0.5, 3.5 -> 0, -1, 3; b -1, 0.5, -0.5 -> -2, -1, -1 (ties to even).
	out2 := i8t("y", 1, -1, 6)
	eq(t, "concat", runOp(t, []Tensor{a, b}, out2, Op{Type: OpConcatenation}, []int8{2, -1, 7}, []int8{0, 6, 2}),
		[]int8{0, -1, 3, -2, -1, -1})
}

func TestPoolsHand(t *testing.T) {
	in := i8t("x", 1, 0, 2, 3, 1)
	x := []int8{1, 2, -3, 4, 6, 5}
	mp := Op{Type: OpMaxPool, Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}, Pad: [4]int{0, 0, 0, 1}}
	eq(t, "maxpool same", runOp(t, []Tensor{in}, i8t("y", 1, 0, 1, 2, 1), mp, x), []int8{6, 5})
	ap := mp
	ap.Type = OpAveragePool
	// (1+2+4+6)/4 = 3.25 -> 3; (-3+5)/2 = 1 (padding not counted)
	eq(t, "avgpool", runOp(t, []Tensor{in}, i8t("y", 1, 0, 1, 2, 1), ap, x), []int8{3, 1})
	// global: 15/6 = 2.5 -> 2 (even)
	eq(t, "gap", runOp(t, []Tensor{in}, i8t("y", 1, 0, 1), Op{Type: OpGlobalAveragePool}, x), []int8{2})
	eq(t, "pad", runOp(t, []Tensor{i8t("x", 1, 7, 1, 2, 1)}, i8t("y", 1, 7, 2, 3, 1), Op{Type: OpPad, Pad: [4]int{1, 0, 0, 1}}, []int8{1, 2}),
		[]int8{7, 7, 7, 1, 2, 7})
	eq(t, "reshape", runOp(t, []Tensor{in}, i8t("y", 1, 0, 6), Op{Type: OpReshape}, x), x)
}

func TestSoftmaxLogisticTanhHand(t *testing.T) {
	in := i8t("x", 0.25, 0, 4)
	// Equal inputs: p = 0.25 -> 64 - 128 = -64 each.
	eq(t, "softmax equal", runOp(t, []Tensor{in}, i8t("y", 1.0/256, -128, 4), Op{Type: OpSoftmax}, []int8{8, 8, 8, 8}), []int8{-64, -64, -64, -64})
	// One dominant input (difference 127*0.25 ~ 32): p ~ 1 -> 256 clamps to 127.
	eq(t, "softmax peak", runOp(t, []Tensor{in}, i8t("y", 1.0/256, -128, 4), Op{Type: OpSoftmax}, []int8{127, 0, 0, 0}), []int8{127, -128, -128, -128})
	// sigmoid(0) = .5 -> 0; sigmoid(2) = .8808 -> 225.5 -> 225 (odd? 225.48 -> 225) - 128 = 97.
	eq(t, "logistic", runOp(t, []Tensor{in}, i8t("y", 1.0/256, -128, 4), Op{Type: OpLogistic}, []int8{0, 8, -8, 127}), []int8{0, 97, -97, 127})
	// tanh(0)=0, tanh(2)=.9640 -> 123.4 -> 123, tanh(31.75) -> 128 -> 127.
	eq(t, "tanh", runOp(t, []Tensor{in}, i8t("y", 1.0/128, 0, 4), Op{Type: OpTanh}, []int8{0, 8, -8, 127}), []int8{0, 123, -123, 127})
}

func TestQuantizeDequantize(t *testing.T) {
	m := &Model{Tensors: []Tensor{{Name: "x", Shape: tensor.Shape{4}, DType: Float32}, i8t("q", 0.5, 3, 4), {Name: "y", Shape: tensor.Shape{4}, DType: Float32}},
		Ops: []Op{{Type: OpQuantize, Inputs: []int{0}, Output: 1}, {Type: OpDequantize, Inputs: []int{1}, Output: 2}}, Inputs: []int{0}, Outputs: []int{2}}
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.FromSlice([]float32{0.25, 0.75, -100, 1.1}, 1, 4)
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	// 0.25/0.5 = 0.5 -> 0; 1.5 -> 2; clamp to -128; 2.2 -> 2; plus zp 3.
	eq(t, "quantize", it.OutputInt8(0).Data, []int8{3, 5, -128, 5})
	want := []float32{0, 1, -65.5, 1}
	for i, v := range it.Output(0).Data {
		if v != want[i] {
			t.Fatalf("dequantize: %v, want %v", it.Output(0).Data, want)
		}
	}
	// Input validation.
	bad, _ := tensor.FromSlice(make([]float32, 3), 1, 3)
	if err := it.SetInput(0, bad); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong shape: %v", err)
	}
	if err := it.SetInputInt8(0, &tensor.Int8{Shape: tensor.Shape{1, 4}, Data: make([]int8, 4)}); err == nil {
		t.Error("int8 data accepted for a float input")
	}
	// Any batch; no allocation per Invoke.
	x3, _ := tensor.FromSlice(make([]float32, 12), 3, 4)
	if err := it.SetInput(0, x3); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { _ = it.Invoke(); _ = it.Output(0) }); a != 0 {
		t.Errorf("%v allocations per Invoke", a)
	}
}

func TestValidateRejects(t *testing.T) {
	good := func() *Model {
		return &Model{Tensors: []Tensor{i8t("x", 1, 0, 4), i8t("y", 1, 0, 4)},
			Ops: []Op{{Type: OpReshape, Inputs: []int{0}, Output: 1}}, Inputs: []int{0}, Outputs: []int{1}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(m *Model){
		"zero scale":     func(m *Model) { m.Tensors[0].Scale = 0 },
		"negative scale": func(m *Model) { m.Tensors[1].Scale = -1 },
		"zero point":     func(m *Model) { m.Tensors[0].ZeroPoint = 200 },
		"unknown op":     func(m *Model) { m.Ops[0].Type = "Gelu" },
		"shape":          func(m *Model) { m.Tensors[1].Shape = tensor.Shape{5} },
		"index":          func(m *Model) { m.Ops[0].Inputs[0] = 7 },
		"dtype":          func(m *Model) { m.Tensors[1].DType = "int4" },
	} {
		m := good()
		mut(m)
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
