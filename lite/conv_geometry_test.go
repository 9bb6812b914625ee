package lite

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/goqat/goqat/internal/qkernels"
	"github.com/goqat/goqat/qmath"
	"github.com/goqat/goqat/tensor"
)

// refConvGeneral is Conv2D with dilation and channel groups written out
// plainly from the op's definition: output channel o of group
// o/(OC/G) sums, over the taps (ky, kx) and the C/G channels c of its
// group, (x[b, oy*SH-PT+ky*DH, ox*SW-PL+kx*DW, g*C/G+c] - zp) *
// w[ky, kx, c, o], the padding contributing nothing.
func refConvGeneral(x []int8, n int, op *Op, tin, tout *Tensor) []int8 {
	h, w, c := tin.Shape[0], tin.Shape[1], tin.Shape[2]
	kh, kw, cg, oc := op.WeightShape[0], op.WeightShape[1], op.WeightShape[2], op.WeightShape[3]
	dh, dw, G := max(op.Dilation[0], 1), max(op.Dilation[1], 1), max(op.Groups, 1)
	oh, ow := tout.Shape[0], tout.Shape[1]
	lo, hi := outRange(tout, op.Activation)
	out := make([]int8, n*oh*ow*oc)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < oc; o++ {
					acc := op.Bias[o]
					c0 := o / (oc / G) * cg
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							y, xx := oy*op.Strides[0]-op.Pad[0]+ky*dh, ox*op.Strides[1]-op.Pad[2]+kx*dw
							if y < 0 || y >= h || xx < 0 || xx >= w {
								continue
							}
							for ci := 0; ci < cg; ci++ {
								acc += (int32(x[((b*h+y)*w+xx)*c+c0+ci]) - tin.ZeroPoint) * int32(op.Weights[((ky*kw+kx)*cg+ci)*oc+o])
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

// refDepthwiseGeneral is DepthwiseConv2D with a depth multiplier M and
// dilation written out plainly: output channel o = c*M+m reads input
// channel c with weights w[ky, kx, o].
func refDepthwiseGeneral(x []int8, n int, op *Op, tin, tout *Tensor) []int8 {
	h, w, c := tin.Shape[0], tin.Shape[1], tin.Shape[2]
	kh, kw, cm := op.WeightShape[0], op.WeightShape[1], op.WeightShape[2]
	dh, dw, M := max(op.Dilation[0], 1), max(op.Dilation[1], 1), max(op.DepthMultiplier, 1)
	oh, ow := tout.Shape[0], tout.Shape[1]
	lo, hi := outRange(tout, op.Activation)
	out := make([]int8, n*oh*ow*cm)
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < cm; o++ {
					acc := op.Bias[o]
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							y, xx := oy*op.Strides[0]-op.Pad[0]+ky*dh, ox*op.Strides[1]-op.Pad[2]+kx*dw
							if y >= 0 && y < h && xx >= 0 && xx < w {
								acc += (int32(x[((b*h+y)*w+xx)*c+o/M]) - tin.ZeroPoint) * int32(op.Weights[(ky*kw+kx)*cm+o])
							}
						}
					}
					m, _ := qmath.NewMultiplier(float64(tin.Scale) * float64(op.WeightScales[o]) / float64(tout.Scale))
					out[((b*oh+oy)*ow+ox)*cm+o] = int8(qmath.Requantize(acc, m, tout.ZeroPoint, lo, hi))
				}
			}
		}
	}
	return out
}

// geomOp is one convolution of the geometry tests: input (h, w, c), oc
// output channels (for a depthwise op, the multiplier is oc/c), kernel
// (kh, kw), strides, dilation, groups (Conv2D) and padding (top, bottom,
// left, right).
type geomOp struct {
	h, w, c, oc, kh, kw, sh, sw, dh, dw, groups int
	pad                                         [4]int
}

// build returns the op with random weights, biases and scales, its input
// and output tensors, and the output shape.
func (g geomOp) build(rng *rand.Rand, depthwise bool, act string) (Op, Tensor, Tensor) {
	oh := (g.h+g.pad[0]+g.pad[1]-((g.kh-1)*g.dh+1))/g.sh + 1
	ow := (g.w+g.pad[2]+g.pad[3]-((g.kw-1)*g.dw+1))/g.sw + 1
	// Zero points at the ends of the range and inside it.
	zps := []int32{-128, 127, rng.Int32N(200) - 100}
	tin := i8t("x", 0.02, zps[rng.IntN(3)], g.h, g.w, g.c)
	tout := i8t("y", 0.05+rng.Float32(), rng.Int32N(200)-100, oh, ow, g.oc)
	op := Op{Type: OpConv2D, Kernel: [2]int{g.kh, g.kw}, Strides: [2]int{g.sh, g.sw}, Pad: g.pad,
		WeightBits: 8, Activation: act}
	if g.dh != 1 || g.dw != 1 {
		op.Dilation = [2]int{g.dh, g.dw}
	}
	if depthwise {
		op.Type = OpDepthwiseConv2D
		op.WeightShape = tensor.Shape{g.kh, g.kw, g.oc}
		if m := g.oc / g.c; m > 1 {
			op.DepthMultiplier = m
		}
		tout.Scale *= 0.1
	} else {
		op.WeightShape = tensor.Shape{g.kh, g.kw, g.c / g.groups, g.oc}
		if g.groups > 1 {
			op.Groups = g.groups
		}
	}
	op.Weights = make([]int8, op.WeightShape.Size())
	for i := range op.Weights {
		op.Weights[i] = int8(rng.IntN(255) - 127)
		if i%7 == 0 {
			op.Weights[i] = []int8{-127, 127}[i/7%2] // the ends of the narrow range
		}
	}
	op.Bias = make([]int32, g.oc)
	op.WeightScales = make([]float32, g.oc)
	for i := range op.Bias {
		op.Bias[i] = rng.Int32N(20000) - 10000
		op.WeightScales[i] = 0.001 + 0.01*rng.Float32()
	}
	return op, tin, tout
}

// guardByte fills the output buffer past the batch; it must come back
// unchanged.
const guardByte = int8(0x5a)

// runGuarded runs a one-op model on a batch of n with room for n+2 in the
// interpreter's buffers, the output's spare room filled with guardByte,
// and returns the output codes and the interpreter (to inspect its
// kernel).
func runGuarded(t *testing.T, what string, op Op, tin, tout Tensor, n int, x []int8) ([]int8, *Interpreter) {
	t.Helper()
	m := &Model{Name: "t", Tensors: []Tensor{tin, tout}, Inputs: []int{0}, Outputs: []int{1}}
	op.Inputs, op.Output = []int{0}, 1
	m.Ops = []Op{op}
	it, err := NewInterpreter(m)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := it.Allocate(n + 2); err != nil {
		t.Fatal(err)
	}
	size := n * tout.Shape.Size()
	buf := it.i8[1]
	for i := size; i < len(buf); i++ {
		buf[i] = guardByte
	}
	if err := it.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{n}, tin.Shape...), Data: x}); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	for i := size; i < len(buf); i++ {
		if buf[i] != guardByte {
			t.Fatalf("%s: output byte %d past the batch overwritten", what, i-size)
		}
	}
	return append([]int8(nil), it.OutputInt8(0).Data...), it
}

// randCodes returns n int8 values, the ends of the range among them.
func randCodes(rng *rand.Rand, n int) []int8 {
	x := make([]int8, n)
	for i := range x {
		x[i] = int8(rng.IntN(256) - 128)
		if i%11 == 0 {
			x[i] = []int8{-128, 127}[i/11%2]
		}
	}
	return x
}

// TestConvGeometryEveryPath runs dilated and grouped Conv2D ops of odd
// shapes on every int8 path the CPU has, against refConvGeneral, with
// guard bytes after the output, and fails if a path the CPU supports did
// not pack the groups' weights.
func TestConvGeometryEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	ops := []geomOp{
		{9, 8, 3, 5, 3, 3, 1, 1, 2, 2, 1, [4]int{2, 2, 2, 2}},    // dilation, 'same'
		{11, 7, 4, 7, 3, 2, 1, 1, 3, 2, 1, [4]int{0, 0, 0, 0}},   // dilation, 'valid'
		{7, 6, 6, 9, 3, 3, 2, 2, 1, 1, 3, [4]int{1, 1, 1, 1}},    // groups, stride 2
		{8, 9, 8, 8, 3, 3, 1, 1, 2, 1, 8, [4]int{2, 2, 1, 1}},    // one channel per group, dilated
		{6, 5, 64, 96, 1, 1, 1, 1, 1, 1, 2, [4]int{0, 0, 0, 0}},  // 1x1 groups, wide groups
		{7, 7, 34, 68, 3, 3, 1, 1, 1, 1, 2, [4]int{0, 1, 2, 0}},  // asymmetric padding
		{10, 9, 12, 36, 5, 3, 1, 2, 1, 1, 4, [4]int{2, 2, 1, 1}}, // 5x3, stride (1, 2)
		{6, 6, 5, 3, 2, 2, 1, 1, 4, 4, 1, [4]int{2, 2, 2, 2}},    // a dilated window wider than the image
	}
	ran := map[qkernels.Path]bool{}
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for i, g := range ops {
			op, tin, tout := g.build(rng, false, []string{"", "relu", "relu6"}[i%3])
			n := 3
			x := randCodes(rng, n*g.h*g.w*g.c)
			what := fmt.Sprintf("%v conv %d", p, i)
			got, it := runGuarded(t, what, op, tin, tout, n, x)
			eq(t, what, got, refConvGeneral(x, n, &op, &tin, &tout))
			k := it.kernels[0].(*convKernel)
			if len(k.grp) != g.groups || k.grp[0].g.g.Weights().Path() != p {
				t.Fatalf("%s: %d groups on the general path, want %d packed for %v", what, len(k.grp), g.groups, p)
			}
			ran[p] = true
			// Another interpreter sharing the packed weights.
			c := it.Clone()
			if err := c.SetInputInt8(0, &tensor.Int8{Shape: append(tensor.Shape{n}, tin.Shape...), Data: x}); err != nil {
				t.Fatal(err)
			}
			if err := c.Invoke(); err != nil {
				t.Fatal(err)
			}
			eq(t, what+" clone", c.OutputInt8(0).Data, got)
		}
		restore()
	}
	checkCPUPathsRan(t, "conv geometry", ran)
}

// TestDepthwiseGeometryEveryPath runs DepthwiseConv2D ops with depth
// multipliers (output channel c*M+m), dilation and stride 2 with 'same'
// padding on every int8 path, against refDepthwiseGeneral, with guard
// bytes after the output.
func TestDepthwiseGeometryEveryPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	ops := []geomOp{
		{8, 8, 8, 16, 3, 3, 2, 2, 1, 1, 1, [4]int{0, 1, 0, 1}},  // M=2, stride 2 'same' (even input)
		{9, 7, 3, 15, 3, 3, 2, 2, 1, 1, 1, [4]int{1, 1, 1, 1}},  // M=5, stride 2 'same' (odd input)
		{7, 6, 17, 51, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, // M=3, 51 channels
		{9, 9, 32, 32, 3, 3, 1, 1, 2, 2, 1, [4]int{0, 0, 0, 0}}, // dilation, no padding
		{9, 8, 16, 16, 3, 3, 1, 1, 2, 3, 1, [4]int{2, 2, 3, 3}}, // dilation, 'same'
		{8, 7, 16, 32, 3, 3, 1, 1, 2, 1, 1, [4]int{2, 2, 1, 1}}, // M=2, rows 2 apart (3x3 rows on VNNI)
		{6, 7, 5, 10, 5, 3, 1, 1, 1, 2, 1, [4]int{2, 2, 2, 2}},  // M=2 with dilation
		{5, 5, 2, 2, 3, 3, 1, 1, 3, 3, 1, [4]int{3, 3, 3, 3}},   // a dilated window wider than the image
		// 3x3, M=1, no dilation: the pair-row kernel on VNNI.
		{7, 9, 33, 33, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, // stride 1 'same'
		{8, 8, 24, 24, 3, 3, 2, 2, 1, 1, 1, [4]int{0, 1, 0, 1}}, // stride 2 'same' (even input)
		{9, 7, 16, 16, 3, 3, 2, 2, 1, 1, 1, [4]int{1, 1, 1, 1}}, // stride 2 'same' (odd input)
		{6, 5, 7, 7, 3, 3, 1, 2, 1, 1, 1, [4]int{0, 0, 0, 0}},   // valid, strides 1 and 2
		{1, 1, 40, 40, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}, // one pixel
		{4, 9, 5, 5, 3, 3, 2, 1, 1, 1, 1, [4]int{2, 0, 1, 2}},   // uneven padding
	}
	ran := map[qkernels.Path]bool{}
	pairsRan := false
	for _, p := range qkernels.SupportedPaths() {
		restore := qkernels.SetPath(p)
		for i, g := range ops {
			op, tin, tout := g.build(rng, true, []string{"", "relu", "relu6"}[i%3])
			n := 2
			x := randCodes(rng, n*g.h*g.w*g.c)
			what := fmt.Sprintf("%v depthwise %d", p, i)
			got, it := runGuarded(t, what, op, tin, tout, n, x)
			eq(t, what, got, refDepthwiseGeneral(x, n, &op, &tin, &tout))
			k := it.kernels[0].(*dwKernel)
			if k.d.Path() != p {
				t.Fatalf("%s: weights packed for %v", what, k.d.Path())
			}
			pairsRan = pairsRan || k.pairs != nil
			if pairs := p == qkernels.VNNI && g.kh == 3 && g.kw == 3 && g.dh == 1 && g.dw == 1 && g.oc == g.c; pairs != (k.pairs != nil) {
				t.Fatalf("%s: pair-row kernel %v, want %v", what, k.pairs != nil, pairs)
			}
			ran[p] = true
		}
		restore()
	}
	checkCPUPathsRan(t, "depthwise geometry", ran)
	if ran[qkernels.VNNI] && !pairsRan {
		t.Error("the pair-row depthwise kernel never ran")
	}
}

// TestGeometryValidate checks that Validate rejects impossible
// dilations, groups and depth multipliers, and that the default geometry
// leaves no trace in a saved file while the others round-trip.
func TestGeometryValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	conv, cin, cout := geomOp{8, 8, 4, 6, 3, 3, 1, 1, 2, 2, 2, [4]int{2, 2, 2, 2}}.build(rng, false, "")
	dw, din, dout := geomOp{8, 8, 4, 8, 3, 3, 1, 1, 1, 1, 1, [4]int{1, 1, 1, 1}}.build(rng, true, "")
	model := func(op Op, tin, tout Tensor) *Model {
		op.Inputs, op.Output = []int{0}, 1
		return &Model{Name: "t", Tensors: []Tensor{tin, tout}, Ops: []Op{op}, Inputs: []int{0}, Outputs: []int{1}}
	}
	for _, m := range []*Model{model(conv, cin, cout), model(dw, din, dout)} {
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "g.safetensors")
		if err := Save(path, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("loaded model differs:\n%+v\nwant\n%+v", back.Ops[0], m.Ops[0])
		}
	}
	for name, c := range map[string]struct {
		m   func() *Model
		mut func(op *Op)
	}{
		"negative dilation":      {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Dilation[1] = -1 }},
		"huge dilation":          {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Dilation = [2]int{1 << 60, 1} }},
		"dilated window too big": {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Dilation, op.Pad = [2]int{5, 5}, [4]int{} }},
		"negative groups":        {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Groups = -2 }},
		"groups not dividing":    {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Groups = 4 }},
		"kernel of other groups": {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.Groups = 1 }},
		"multiplier on a conv":   {func() *Model { return model(conv, cin, cout) }, func(op *Op) { op.DepthMultiplier = 2 }},
		"groups on a depthwise":  {func() *Model { return model(dw, din, dout) }, func(op *Op) { op.Groups = 2 }},
		"wrong multiplier":       {func() *Model { return model(dw, din, dout) }, func(op *Op) { op.DepthMultiplier = 3 }},
		"multiplier 1 for 2":     {func() *Model { return model(dw, din, dout) }, func(op *Op) { op.DepthMultiplier = 0 }},
		"dilation on a pool": {func() *Model {
			return model(Op{Type: OpMaxPool, Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}}, din, i8t("y", din.Scale, din.ZeroPoint, 4, 4, 4))
		}, func(op *Op) { op.Dilation = [2]int{2, 2} }},
	} {
		m := c.m()
		if name == "dilation on a pool" {
			if err := m.Validate(); err != nil {
				t.Fatalf("the pool model: %v", err)
			}
		}
		c.mut(&m.Ops[0])
		if err := m.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The default geometry writes no new keys.
	plain, pin, pout := geomOp{6, 6, 3, 4, 3, 3, 1, 1, 1, 1, 1, [4]int{}}.build(rng, false, "")
	f, err := encode(model(plain, pin, pout))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Metadata {
		for _, key := range []string{"dilation", "groups", "depth_multiplier"} {
			if strings.Contains(v, `"`+key+`"`) {
				t.Errorf("a plain convolution's file names %q", key)
			}
		}
	}
}
