package convert

import (
	"strings"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// TestExactTableAndMul builds a QAT model by hand with fixed quantizers,
// so that every input code is reached: x1 (256 values, one per int8 code)
// and x2 (one value per sample, all 256 codes over the batch) feed a
// broadcast Multiply, hard_swish followed by a fused ReLU, hard_sigmoid
// with a 4-bit output, and silu. The QAT model's inference must compute
// the integer model's codes on all of them (the 65536 code pairs of the
// Multiply included). At these scales a float simulation of the Multiply
// (fake quant of the float product) rounds some of the pairs the other
// way, which the test checks too: the exact inference is what makes the
// codes agree.
func TestExactTableAndMul(t *testing.T) {
	fixed := func(s float32, zp int32, bits int) *quantize.Spec {
		return &quantize.Spec{Kind: quantize.KindFixed, Bits: bits, Scale: s, ZeroPoint: zp}
	}
	wrap := func(l nn.Layer, out *quantize.Spec) nn.Layer {
		w, err := quantize.NewQuantizeWrapper(l, nil, out)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	act := func(f string) nn.Layer {
		a, err := nn.NewActivation(f)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	s1, zp1, s2, zp2 := float32(0.05), int32(-7), float32(0.01), int32(100)
	sOut, zpOut := float32(0.013), int32(3)
	q1, err := quantize.NewQuantizeInput(*fixed(s1, zp1, 8))
	if err != nil {
		t.Fatal(err)
	}
	q2, err := quantize.NewQuantizeInput(*fixed(s2, zp2, 8))
	if err != nil {
		t.Fatal(err)
	}
	x1, x2 := nn.Input(256), nn.Input(1)
	a, b := nn.Call(q1, x1), nn.Call(q2, x2)
	mul := nn.Call(wrap(nn.NewMultiply(), fixed(sOut, zpOut, 8)), a, b)
	hs := nn.Call(wrap(nn.NewReLU(), fixed(0.02, -128, 8)), nn.Call(wrap(act("hard_swish"), nil), a))
	hsig := nn.Call(wrap(act("hard_sigmoid"), fixed(1.0/15, -8, 4)), a)
	silu := nn.Call(wrap(act("silu"), fixed(0.03, -20, 8)), a)
	qat, err := nn.NewModel([]*nn.Node{x1, x2}, []*nn.Node{mul, hs, hsig, silu})
	if err != nil {
		t.Fatal(err)
	}
	if n := quantize.Link(qat); n != 4 {
		t.Errorf("Link linked %d layers, want 4 (Multiply, hard_swish, hard_sigmoid, silu)", n)
	}
	im, err := Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, op := range im.Ops {
		ops[string(op.Type)+"/"+op.Activation] = true
	}
	for _, want := range []string{"Mul/", "HardSwish/relu", "HardSigmoid/", "SiLU/"} {
		if !ops[want] {
			t.Errorf("no %s op in the integer model", want)
		}
	}
	// Sample j: x1 holds every code, x2 code j - 128.
	in1, in2 := tensor.New(256, 256), tensor.New(256, 1)
	for j := 0; j < 256; j++ {
		for i := 0; i < 256; i++ {
			in1.Data[j*256+i] = float32(int32(i-128)-zp1) * s1
		}
		in2.Data[j] = float32(int32(j-128)-zp2) * s2
	}
	ys, err := qat.Forward(&nn.Context{}, in1, in2)
	if err != nil {
		t.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(0, in1); err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(1, in2); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	for o, y := range ys {
		var ot *lite.Tensor // the int8 tensor the output's Dequantize reads
		for _, op := range im.Ops {
			if op.Type == lite.OpDequantize && op.Output == im.Outputs[o] {
				ot = &im.Tensors[op.Inputs[0]]
			}
		}
		codes := it.OutputInt8(o).Data
		qmin, qmax := ot.QRange()
		for i, v := range y.Data {
			if q := qmath.QuantizeValue(v, ot.Scale, ot.ZeroPoint, qmin, qmax); q != int32(codes[i]) {
				t.Fatalf("output %d (%s) value %d: QAT code %d, integer %d", o, ot.Name, i, q, codes[i])
			}
		}
	}
	// The float simulation of the Multiply disagrees on some pairs.
	sim := 0
	for j := 0; j < 256; j++ {
		for i := 0; i < 256; i++ {
			p := (float32(int32(i-128)-zp1) * s1) * (float32(int32(j-128)-zp2) * s2)
			if qmath.QuantizeValue(p, sOut, zpOut, -128, 127) != int32(it.OutputInt8(0).Data[j*256+i]) {
				sim++
			}
		}
	}
	t.Logf("the float simulation of the Multiply differs on %d of 65536 code pairs", sim)
	if sim == 0 {
		t.Error("the float simulation agrees everywhere: the test does not exercise the exact inference")
	}
}

// TestConvertMultiplyOfThree checks that a Multiply of three inputs, which
// the integer engine does not compute, is an error naming the layer.
func TestConvertMultiplyOfThree(t *testing.T) {
	x := nn.Input(4)
	mul := nn.NewMultiply()
	mul.SetName("mul3")
	y := nn.Call(mul, nn.Call(nn.NewDense(4), x), nn.Call(nn.NewDense(4), x), nn.Call(nn.NewDense(4), x))
	m, err := nn.NewModel([]*nn.Node{x}, []*nn.Node{y})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(q); err == nil || !strings.Contains(err.Error(), `"mul3"`) || !strings.Contains(err.Error(), "multiplies 2") {
		t.Errorf("Convert: %v, want an error naming mul3", err)
	}
}
