package onnx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/nn"
	"google.golang.org/protobuf/proto"
)

// hardSigmoidOp appends PyTorch's HardSigmoid of x (alpha float32(1/6),
// beta 0.5 by default).
func (b *builder) hardSigmoidOp(x string) string {
	return b.op("HardSigmoid", "hsig", []string{x}, attrFloat("alpha", 1.0/6))
}

// seGate appends a squeeze-and-excitation gate of x (N, c, H, W), as
// torchvision's SqueezeExcitation exports it: GlobalAveragePool, 1x1 Conv,
// Relu, 1x1 Conv, HardSigmoid; the result is (N, c, 1, 1).
func (b *builder) seGate(r *rand.Rand, x string, c int) string {
	s := b.op("GlobalAveragePool", "squeeze", []string{x})
	s = b.op("Relu", "fc_relu", []string{b.conv1x1(r, s, c, 2)})
	return b.hardSigmoidOp(b.conv1x1(r, s, 2, c))
}

// TestImportMul imports the element-wise ops of MobileNetV3 and
// EfficientNet as PyTorch exports them: HardSigmoid, hardswish as x *
// HardSigmoid(x) (opset 13) and HardSwish (opset 14), SiLU as x *
// Sigmoid(x), the squeeze-and-excitation Mul of an image by an (N, C, 1,
// 1) gate in either order, Mul of two images or of an image by a 1x1
// image, GlobalMaxPool, and checks them against ONNX semantics.
func TestImportMul(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, tc := range []struct {
		name   string
		make   func(b *builder) string
		opset  int64
		layers string
	}{
		{"hard sigmoid", func(b *builder) string { return b.hardSigmoidOp("x") }, 13, "Activation"},
		{"hardswish as x * HardSigmoid(x)", func(b *builder) string {
			c := b.conv1x1(r, "x", 3, 4)
			return b.op("Mul", "hswish", []string{c, b.hardSigmoidOp(c)})
		}, 13, "Conv2D Activation"},
		{"hardswish as HardSigmoid(x) * x", func(b *builder) string {
			return b.op("Mul", "hswish", []string{b.hardSigmoidOp("x"), "x"})
		}, 13, "Activation"},
		{"HardSwish", func(b *builder) string { return b.op("HardSwish", "hswish", []string{"x"}) }, 14, "Activation"},
		{"silu as x * Sigmoid(x)", func(b *builder) string {
			return b.op("Mul", "silu", []string{"x", b.op("Sigmoid", "sig", []string{"x"})})
		}, 13, "Activation"},
		{"gate read twice", func(b *builder) string {
			h := b.hardSigmoidOp("x")
			return b.op("Add", "sum", []string{b.op("Mul", "prod", []string{"x", h}), h})
		}, 13, "Activation Multiply Add"},
		{"gate of another tensor", func(b *builder) string {
			return b.op("Mul", "prod", []string{b.conv1x1(r, "x", 3, 3), b.hardSigmoidOp("x")})
		}, 13, "Conv2D Activation Multiply"},
		{"squeeze-excitation gate * image", func(b *builder) string {
			return b.op("Mul", "scale", []string{b.seGate(r, "x", 3), "x"})
		}, 13, "GlobalAveragePooling2D Dense ReLU Dense Activation Multiply"},
		{"image * squeeze-excitation gate", func(b *builder) string {
			return b.op("Mul", "scale", []string{"x", b.seGate(r, "x", 3)})
		}, 13, "GlobalAveragePooling2D Dense ReLU Dense Activation Multiply"},
		{"two gates", func(b *builder) string {
			return b.op("Mul", "gates", []string{b.seGate(r, "x", 3), b.seGate(r, "x", 3)})
		}, 13, "GlobalAveragePooling2D Dense ReLU Dense Activation GlobalAveragePooling2D Dense ReLU Dense Activation Multiply"},
		{"two images", func(b *builder) string {
			return b.op("Mul", "prod", []string{"x", b.conv1x1(r, "x", 3, 3)})
		}, 13, "Conv2D Multiply"},
		{"image * 1x1 image", func(b *builder) string {
			p := b.op("MaxPool", "pool", []string{"x"}, poolAttrs(4, 4, nil, 0, -1)...) // (N, 3, 1, 1) as an image
			return b.op("Mul", "prod", []string{"x", p})
		}, 13, "MaxPooling2D Multiply"},
		{"global max pool", func(b *builder) string {
			return b.op("Flatten", "flat", []string{b.op("GlobalMaxPool", "gmp", []string{"x"})}, attrInt("axis", 1))
		}, 13, "GlobalMaxPooling2D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 4)
			mp := b.finish(tc.make(b))
			mp.OpsetImport[0].Version = proto.Int64(tc.opset)
			m := evalImport(t, mp, 3, 4, 4)
			if got := layerTypes(m); got != tc.layers {
				t.Errorf("layers %q, want %q", got, tc.layers)
			}
		})
	}
}

// TestImportMulActivations checks which goqat activation each pattern
// becomes, and that a gate fused into hard_swish or silu is no layer.
func TestImportMulActivations(t *testing.T) {
	for _, tc := range []struct {
		gate, fn string
	}{{"HardSigmoid", "hard_swish"}, {"Sigmoid", "silu"}} {
		b := graphBuilder(3, 4, 4)
		g := b.op(tc.gate, "gate", []string{"x"}, attrFloat("alpha", 1.0/6))
		if tc.gate == "Sigmoid" {
			g = b.op(tc.gate, "gate", []string{"x"})
		}
		m := roundTrip(t, b.finish(b.op("Mul", "act", []string{"x", g})))
		ls := m.Layers()
		if len(ls) != 1 || ls[0].Name() != "act" {
			t.Fatalf("%s: layers %q, want one named after the Mul", tc.gate, layerTypes(m))
		}
		if a, ok := ls[0].(*nn.Activation); !ok || a.Func != tc.fn {
			t.Errorf("%s: layer %s %v, want Activation %s", tc.gate, ls[0].Type(), ls[0].Config(), tc.fn)
		}
	}
}

// TestImportMulErrors checks the refusals: HardSigmoid with other than
// PyTorch's alpha and beta (ONNX's default alpha 0.2 among them), Mul by a
// constant, of an image by a flat tensor, of tensors of different ranks,
// and of shapes that do not broadcast.
func TestImportMulErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, tc := range []struct {
		name string
		make func(b *builder) string
		err  string
	}{
		{"hard sigmoid default alpha", func(b *builder) string { return b.op("HardSigmoid", "h", []string{"x"}) }, "only alpha 1/6 and beta 0.5"},
		{"hard sigmoid beta", func(b *builder) string {
			return b.op("HardSigmoid", "h", []string{"x"}, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.4))
		}, "only alpha 1/6 and beta 0.5"},
		{"mul by a constant", func(b *builder) string {
			return b.op("Mul", "m", []string{"x", b.floats("k", []int{1}, []float32{2})})
		}, "multiplying by a constant is not supported"},
		{"image by a flat tensor", func(b *builder) string {
			f := b.op("Flatten", "f", []string{b.op("GlobalAveragePool", "g", []string{"x"})}, attrInt("axis", 1))
			return b.op("Mul", "m", []string{"x", f})
		}, "an (N, C, H, W) image times an (N, C, 1, 1) gate"},
		{"shapes that do not broadcast", func(b *builder) string {
			return b.op("Mul", "m", []string{"x", b.conv1x1(r, "x", 3, 2)})
		}, "only tensors of the same shape"},
		{"gate of other channels", func(b *builder) string {
			return b.op("Mul", "m", []string{"x", b.seGate(r, b.conv1x1(r, "x", 3, 2), 2)})
		}, "only tensors of the same shape"},
		{"NHWC tensors of different ranks", func(b *builder) string {
			h := b.op("Transpose", "nhwc", []string{"x"}, attrInts("perm", toNHWC...)) // (N, 4, 4, 3)
			return b.op("Mul", "m", []string{h, b.op("Flatten", "f", []string{h}, attrInt("axis", 1))})
		}, "only tensors of the same shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 4, 4)
			err := importError(b.finish(tc.make(b)))
			if !strings.Contains(err, tc.err) || strings.Contains(err, "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.err)
			}
		})
	}
}

// mobilenetV3OpsGraph is an ONNX graph with the ops PyTorch exports for
// MobileNetV3 (input (N, 3, 6, 6)): a Conv with hardswish as x *
// HardSigmoid(x), a squeeze-and-excitation block (GlobalAveragePool, 1x1
// Convs, HardSigmoid, Mul by the image), SiLU as x * Sigmoid(x),
// GlobalMaxPool and Gemm. A fuzz and mutation seed.
func mobilenetV3OpsGraph() *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(19, 20))
	b := graphBuilder(3, 6, 6)
	c := b.conv1x1(r, "x", 3, 4)
	x := b.op("Mul", "hswish", []string{c, b.hardSigmoidOp(c)})
	x = b.op("Mul", "se", []string{b.seGate(r, x, 4), x})
	x = b.op("Mul", "silu", []string{x, b.op("Sigmoid", "sig", []string{x})})
	x = b.op("Flatten", "flat", []string{b.op("GlobalMaxPool", "gmp", []string{x})}, attrInt("axis", 1))
	w := b.floats("fc_w", []int{5, 4}, randFloats(r, 20))
	return b.finish(b.op("Gemm", "fc", []string{x, w}, attrInt("transB", 1)))
}

// TestMobilenetV3OpsSeed checks that the seed imports as the layers
// expected and computes ONNX's values.
func TestMobilenetV3OpsSeed(t *testing.T) {
	m := evalImport(t, mobilenetV3OpsGraph(), 3, 6, 6)
	if got, want := layerTypes(m), "Conv2D Activation GlobalAveragePooling2D Dense ReLU Dense Activation Multiply Activation "+
		"GlobalMaxPooling2D Dense"; got != want {
		t.Errorf("layers %q, want %q", got, want)
	}
}
