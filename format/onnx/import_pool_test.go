package onnx

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goqat/goqat/format/onnx/onnxpb"
)

// poolGraph is an ONNX graph x (N, 3, 7, 8) -> [Relu] -> op with attrs.
func poolGraph(op string, relu bool, attrs ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	b := graphBuilder(3, 7, 8)
	x := "x"
	if relu {
		x = b.op("Relu", "relu", []string{x})
	}
	return b.finish(b.op(op, "pool", []string{x}, attrs...))
}

// pool returns kernel_shape, strides and ONNX pads (top, left, bottom,
// right) attributes, plus ceil_mode and count_include_pad when not -1.
func poolAttrs(k, s int, pads []int64, ceil, includePad int64) []*onnxpb.AttributeProto {
	at := []*onnxpb.AttributeProto{attrInts("kernel_shape", int64(k), int64(k)), attrInts("strides", int64(s), int64(s))}
	if pads != nil {
		at = append(at, attrInts("pads", pads...))
	}
	if ceil >= 0 {
		at = append(at, attrInt("ceil_mode", ceil))
	}
	if includePad >= 0 {
		at = append(at, attrInt("count_include_pad", includePad))
	}
	return at
}

// TestImportPoolPadding imports MaxPool and AveragePool with explicit
// pads and ceil_mode (as PyTorch exports ResNet's, SqueezeNet's and
// GoogLeNet's pools) and checks them against ONNX semantics on values of
// both signs, or that goqat refuses what it cannot reproduce.
func TestImportPoolPadding(t *testing.T) {
	ok := []struct {
		name   string
		op     string
		relu   bool
		attrs  []*onnxpb.AttributeProto
		layers string // the imported layer types
	}{
		// ResNet's stem pool: pads 1 after a ReLU pad with zeros.
		{"max pads 1 after relu", "MaxPool", true, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 0, -1), "ReLU ZeroPadding2D MaxPooling2D"},
		// SqueezeNet: ceil_mode extends the last window (W 8: 8 = 3 + 2*2 + 1).
		{"max ceil after relu", "MaxPool", true, poolAttrs(3, 2, []int64{0, 0, 0, 0}, 1, -1), "ReLU ZeroPadding2D MaxPooling2D"},
		// GoogLeNet's branch pool: pads 1, stride 1, ceil_mode: 'same' on any sign.
		{"max same ceil", "MaxPool", false, poolAttrs(3, 1, []int64{1, 1, 1, 1}, 1, -1), "MaxPooling2D"},
		// ceil_mode equal to 'same': H 7 with k 2, s 2 pads one row at the bottom.
		{"max ceil as same", "MaxPool", false, poolAttrs(2, 2, nil, 1, -1), "MaxPooling2D"},
		{"max no pads", "MaxPool", false, poolAttrs(3, 2, nil, 0, -1), "MaxPooling2D"},
		{"avg asymmetric pads counted", "AveragePool", false, poolAttrs(3, 2, []int64{1, 0, 2, 1}, 0, 1), "ZeroPadding2D AveragePooling2D"},
		{"avg same pads counted", "AveragePool", false, poolAttrs(3, 1, []int64{1, 1, 1, 1}, 0, 1), "ZeroPadding2D AveragePooling2D"},
		{"avg same pads not counted", "AveragePool", false, poolAttrs(3, 1, []int64{1, 1, 1, 1}, 0, 0), "AveragePooling2D"},
		{"avg ceil as same", "AveragePool", false, poolAttrs(2, 2, nil, 1, 0), "AveragePooling2D"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			m := evalImport(t, poolGraph(tc.op, tc.relu, tc.attrs...), 3, 7, 8)
			if got := layerTypes(m); got != tc.layers {
				t.Errorf("layers %q, want %q", got, tc.layers)
			}
		})
	}
	bad := []struct {
		name  string
		op    string
		relu  bool
		attrs []*onnxpb.AttributeProto
		err   string
	}{
		{"max pads of a signed input", "MaxPool", false, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 0, -1), "not known to be non-negative"},
		{"max ceil of a signed input", "MaxPool", false, poolAttrs(3, 2, nil, 1, -1), "not known to be non-negative"},
		{"avg pads not counted", "AveragePool", false, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 0, 0), "count_include_pad 0"},
		{"avg ceil past counted pads", "AveragePool", false, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 1, 1), "ceil_mode window past the pads"},
		{"pads as large as the window", "MaxPool", true, poolAttrs(2, 2, []int64{2, 0, 0, 0}, 0, -1), "not smaller than the window"},
		{"ceil window in the padding", "MaxPool", true, poolAttrs(1, 2, nil, 1, -1), "starts in the padding"},
		{"window larger than the image", "MaxPool", true, poolAttrs(9, 1, nil, 0, -1), "larger than the padded axis"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := importError(poolGraph(tc.op, tc.relu, tc.attrs...)); !strings.Contains(err, tc.err) || strings.Contains(err, "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.err)
			}
		})
	}
}

// TestImportNonNegative checks which values count as non-negative for a
// padded MaxPool: after Relu, Clip(0, 6), Sigmoid, HardSigmoid, and
// through MaxPool, Concat, Add and Mul of such values; not after Tanh,
// hardswish or a Conv.
func TestImportNonNegative(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		make func(b *builder) string
		ok   bool
	}{
		{"relu", func(b *builder) string { return b.op("Relu", "r", []string{"x"}) }, true},
		{"clip", func(b *builder) string {
			lo, hi := b.floats("lo", nil, []float32{0}), b.floats("hi", nil, []float32{6})
			return b.op("Clip", "c", []string{"x", lo, hi})
		}, true},
		{"sigmoid", func(b *builder) string { return b.op("Sigmoid", "s", []string{"x"}) }, true},
		{"tanh", func(b *builder) string { return b.op("Tanh", "t", []string{"x"}) }, false},
		{"hard sigmoid", func(b *builder) string { return b.hardSigmoidOp("x") }, true},
		{"hardswish", func(b *builder) string { return b.op("Mul", "hs", []string{"x", b.hardSigmoidOp("x")}) }, false},
		{"mul of a relu and a sigmoid", func(b *builder) string {
			return b.op("Mul", "m", []string{b.op("Relu", "r", []string{"x"}), b.op("Sigmoid", "s", []string{b.conv1x1(r, "x", 3, 3)})})
		}, true},
		{"mul of a relu and a signed value", func(b *builder) string {
			return b.op("Mul", "m", []string{b.op("Relu", "r", []string{"x"}), b.conv1x1(r, "x", 3, 3)})
		}, false},
		{"conv after relu", func(b *builder) string { return b.conv1x1(r, b.op("Relu", "r", []string{"x"}), 3, 3) }, false},
		{"concat and add of relus", func(b *builder) string {
			a, c := b.op("Relu", "a", []string{"x"}), b.op("Relu", "c", []string{b.conv1x1(r, "x", 3, 3)})
			s := b.op("Add", "s", []string{a, c})
			m := b.op("MaxPool", "m", []string{s}, poolAttrs(3, 1, []int64{1, 1, 1, 1}, 0, -1)...)
			return b.op("Concat", "cat", []string{m, a}, attrInt("axis", 1))
		}, true},
		{"concat with a signed input", func(b *builder) string {
			return b.op("Concat", "cat", []string{b.op("Relu", "a", []string{"x"}), "x"}, attrInt("axis", 1))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphBuilder(3, 7, 8)
			y := b.op("MaxPool", "pool", []string{tc.make(b)}, poolAttrs(3, 2, []int64{1, 1, 1, 1}, 0, -1)...)
			mp := b.finish(y)
			if !tc.ok {
				if err := importError(mp); !strings.Contains(err, "not known to be non-negative") {
					t.Errorf("error %q, want a refusal of the padding", err)
				}
				return
			}
			c := 3
			if strings.HasPrefix(tc.name, "concat") {
				c = 6
			}
			m := evalImport(t, mp, 3, 7, 8)
			if s := m.OutputShape(m.OutputNames()[0]); s[2] != c {
				t.Errorf("output %v", s)
			}
		})
	}
}

// TestImportReduceMean imports ReduceMean over H and W (ShuffleNet's
// x.mean([2, 3])) with keepdims 0 and 1, and a 1x1 Conv of its (N, C, 1,
// 1) output (a squeeze-and-excitation block's) as a Dense.
func TestImportReduceMean(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, keep := range []int64{0, 1} {
		b := graphBuilder(3, 5, 4)
		y := b.op("ReduceMean", "mean", []string{"x"}, attrInts("axes", -1, 2), attrInt("keepdims", keep))
		if keep == 1 {
			y = b.op("Relu", "relu", []string{b.conv1x1(r, y, 3, 4)})
			y = b.op("Flatten", "flat", []string{y}, attrInt("axis", 1))
		}
		m := evalImport(t, b.finish(y), 3, 5, 4)
		want := "GlobalAveragePooling2D"
		if keep == 1 {
			want += " Dense ReLU"
		}
		if got := layerTypes(m); got != want {
			t.Errorf("keepdims %d: layers %q, want %q", keep, got, want)
		}
	}
	for _, axes := range [][]int64{{1, 2}, {2}, {2, 2}, {2, 3, 1}} {
		b := graphBuilder(3, 5, 4)
		mp := b.finish(b.op("ReduceMean", "mean", []string{"x"}, attrInts("axes", axes...)))
		if err := importError(mp); !strings.Contains(err, "only the mean over H and W") {
			t.Errorf("axes %v: error %q", axes, err)
		}
	}
}
