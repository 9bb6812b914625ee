package lite

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// refConv is Conv2D written out plainly from the op's definition, the
// specification the interpreter's kernels must match bit for bit.
func refConv(x []int8, n, h, w, c int, op *Op, tin, tout *Tensor) []int8 {
	kh, kw, oc := op.WeightShape[0], op.WeightShape[1], op.WeightShape[3]
	oh, ow := tout.Shape[0], tout.Shape[1]
	lo, hi := outRange(tout, op.Activation)
	out := make([]int8, n*oh*ow*oc)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < oc; o++ {
					acc := op.Bias[o]
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							y, xx := oy*op.Strides[0]-op.Pad[0]+ky, ox*op.Strides[1]-op.Pad[2]+kx
							if y < 0 || y >= h || xx < 0 || xx >= w {
								continue
							}
							for ci := 0; ci < c; ci++ {
								acc += (int32(x[((b*h+y)*w+xx)*c+ci]) - tin.ZeroPoint) * int32(op.Weights[((ky*kw+kx)*c+ci)*oc+o])
							}
						}
					}
					m, _ := qmath.NewMultiplier(float64(tin.Scale) * float64(op.WeightScales[o]) / float64(tout.Scale))
					out[((b*oh+oy)*ow+ox)*oc+o] = int8(qmath.Requantize(acc, m, tout.ZeroPoint, lo, hi))
				}
			}
		}
	}
	return out
}

// TestConvEveryPath runs Conv2D layers of odd shapes, strides and paddings
// on every int8 kernel path the CPU has, against refConv.
func TestConvEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type shape struct{ h, w, c, oc, k, s, pt, pl int }
	shapes := []shape{
		{5, 7, 1, 3, 3, 1, 0, 0}, {9, 6, 3, 17, 3, 2, 1, 1}, {8, 8, 17, 33, 1, 1, 0, 0},
		{7, 5, 33, 40, 3, 1, 1, 1}, {6, 9, 4, 64, 5, 2, 2, 1}, {4, 4, 70, 10, 2, 2, 0, 1},
		{6, 5, 32, 20, 1, 1, 0, 0}, {5, 7, 24, 72, 1, 1, 0, 0},
		{8, 7, 5, 9, 3, 2, 0, 1}, {7, 6, 7, 12, 4, 1, 2, 1}, {28, 28, 1, 16, 3, 1, 1, 1},
	}
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for si, s := range shapes {
			oh := (s.h+2*s.pt-s.k)/s.s + 1
			ow := (s.w+2*s.pl-s.k)/s.s + 1
			tin := i8t("x", 0.02, rng.Int32N(200)-100, s.h, s.w, s.c)
			tout := i8t("y", 0.05+rng.Float32(), rng.Int32N(200)-100, oh, ow, s.oc)
			op := Op{Type: OpConv2D, Kernel: [2]int{s.k, s.k}, Strides: [2]int{s.s, s.s}, Pad: [4]int{s.pt, s.pt, s.pl, s.pl},
				WeightShape: tensor.Shape{s.k, s.k, s.c, s.oc}, WeightBits: 8, Activation: []string{"", "relu", "relu6"}[si%3]}
			op.Weights = make([]int8, s.k*s.k*s.c*s.oc)
			for i := range op.Weights {
				op.Weights[i] = int8(rng.IntN(255) - 127)
			}
			op.Bias = make([]int32, s.oc)
			op.WeightScales = make([]float32, s.oc)
			for i := range op.Bias {
				op.Bias[i] = rng.Int32N(20000) - 10000
				op.WeightScales[i] = 0.001 + 0.01*rng.Float32()
			}
			n := 3
			x := make([]int8, n*s.h*s.w*s.c)
			for i := range x {
				x[i] = int8(rng.IntN(256) - 128)
			}
			m := &Model{Name: "t", Tensors: []Tensor{tin, tout}, Inputs: []int{0}, Outputs: []int{1}}
			op.Inputs, op.Output = []int{0}, 1
			m.Ops = []Op{op}
			it, err := NewInterpreter(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := it.SetInputInt8(0, &tensor.Int8{Shape: tensor.Shape{n, s.h, s.w, s.c}, Data: x}); err != nil {
				t.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			eq(t, fmt.Sprintf("%v shape %d", p, si), it.OutputInt8(0).Data, refConv(x, n, s.h, s.w, s.c, &op, &tin, &tout))
		}
		restore()
	}
}

// refDepthwise is DepthwiseConv2D written out plainly.
func refDepthwise(x []int8, n, h, w, c int, op *Op, tin, tout *Tensor) []int8 {
	kh, kw := op.WeightShape[0], op.WeightShape[1]
	oh, ow := tout.Shape[0], tout.Shape[1]
	lo, hi := outRange(tout, op.Activation)
	out := make([]int8, n*oh*ow*c)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ch := 0; ch < c; ch++ {
					acc := op.Bias[ch]
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							y, xx := oy*op.Strides[0]-op.Pad[0]+ky, ox*op.Strides[1]-op.Pad[2]+kx
							if y >= 0 && y < h && xx >= 0 && xx < w {
								acc += (int32(x[((b*h+y)*w+xx)*c+ch]) - tin.ZeroPoint) * int32(op.Weights[(ky*kw+kx)*c+ch])
							}
						}
					}
					m, _ := qmath.NewMultiplier(float64(tin.Scale) * float64(op.WeightScales[ch]) / float64(tout.Scale))
					out[((b*oh+oy)*ow+ox)*c+ch] = int8(qmath.Requantize(acc, m, tout.ZeroPoint, lo, hi))
				}
			}
		}
	}
	return out
}

// TestDepthwiseAndMaxPoolEveryPath runs DepthwiseConv2D and MaxPool2D on
// every int8 kernel path against plain references.
func TestDepthwiseAndMaxPoolEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type shape struct{ h, w, c, k, s, pt, pl int }
	shapes := []shape{{5, 7, 1, 3, 1, 1, 1}, {9, 6, 17, 3, 2, 1, 1}, {8, 8, 33, 3, 1, 0, 0}, {7, 5, 64, 5, 2, 2, 2}, {6, 6, 70, 2, 2, 0, 0},
		{12, 11, 64, 3, 2, 1, 1}, {4, 4, 8, 5, 1, 2, 2}, {10, 9, 16, 3, 3, 0, 2}}
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for si, s := range shapes {
			oh := (s.h+2*s.pt-s.k)/s.s + 1
			ow := (s.w+2*s.pl-s.k)/s.s + 1
			n := 2
			x := make([]int8, n*s.h*s.w*s.c)
			for i := range x {
				x[i] = int8(rng.IntN(256) - 128)
			}
			tin := i8t("x", 0.02, rng.Int32N(200)-100, s.h, s.w, s.c)
			tout := i8t("y", 0.01+0.1*rng.Float32(), rng.Int32N(200)-100, oh, ow, s.c)
			op := Op{Type: OpDepthwiseConv2D, Kernel: [2]int{s.k, s.k}, Strides: [2]int{s.s, s.s}, Pad: [4]int{s.pt, s.pt, s.pl, s.pl},
				WeightShape: tensor.Shape{s.k, s.k, s.c}, WeightBits: 8, Activation: []string{"", "relu", "relu6"}[si%3]}
			op.Weights = make([]int8, s.k*s.k*s.c)
			for i := range op.Weights {
				op.Weights[i] = int8(rng.IntN(255) - 127)
			}
			op.Bias, op.WeightScales = make([]int32, s.c), make([]float32, s.c)
			for i := range op.Bias {
				op.Bias[i] = rng.Int32N(20000) - 10000
				op.WeightScales[i] = 0.001 + 0.01*rng.Float32()
			}
			got := runOpBatch(t, []Tensor{tin}, tout, op, n, x)
			eq(t, fmt.Sprintf("%v depthwise %d", p, si), got, refDepthwise(x, n, s.h, s.w, s.c, &op, &tin, &tout))

			// Max pooling with the same window (scale and zero point kept).
			pout := tout
			pout.Scale, pout.ZeroPoint = tin.Scale, tin.ZeroPoint
			pop := Op{Type: OpMaxPool, Kernel: op.Kernel, Strides: op.Strides, Pad: op.Pad}
			want := make([]int8, n*oh*ow*s.c)
			for b := 0; b < n; b++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						for ch := 0; ch < s.c; ch++ {
							m := int8(-128)
							for ky := 0; ky < s.k; ky++ {
								for kx := 0; kx < s.k; kx++ {
									y, xx := oy*s.s-s.pt+ky, ox*s.s-s.pl+kx
									if y >= 0 && y < s.h && xx >= 0 && xx < s.w {
										m = max(m, x[((b*s.h+y)*s.w+xx)*s.c+ch])
									}
								}
							}
							want[((b*oh+oy)*ow+ox)*s.c+ch] = m
						}
					}
				}
			}
			eq(t, fmt.Sprintf("%v maxpool %d", p, si), runOpBatch(t, []Tensor{tin}, pout, pop, n, x), want)
		}
		restore()
	}
}

// runOpBatch is runOp for a batch of n samples.
func runOpBatch(t *testing.T, ins []Tensor, out Tensor, op Op, n int, x []int8) []int8 {
	t.Helper()
	m := &Model{Name: "t", Tensors: []Tensor{ins[0], out}, Inputs: []int{0}, Outputs: []int{1}}
	op.Inputs, op.Output = []int{0}, 1
	m.Ops = []Op{op}
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{n}, ins[0].Shape...), Data: x}); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return append([]int8(nil), it.OutputInt8(0).Data...)
}

// TestOutputIndexOutOfRange: output accessors return nil for an index that
// is not an output (or tensor), before and after Invoke, never panic.
func TestOutputIndexOutOfRange(t *testing.T) {
	m := tinyModel(8)
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		for _, i := range []int{-1, len(m.Outputs), 1 << 30} {
			if it.Output(i) != nil || it.OutputInt8(i) != nil {
				t.Errorf("%s: output %d is not nil", when, i)
			}
		}
		for _, i := range []int{-1, len(m.Tensors)} {
			if it.TensorInt8(i, nil) != nil {
				t.Errorf("%s: tensor %d is not nil", when, i)
			}
		}
	}
	check("before Invoke")
}
