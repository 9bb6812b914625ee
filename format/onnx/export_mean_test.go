package onnx

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/format/onnx/onnxpb"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
)

// meanPoolModel is a float model whose mean pools see many exact ties:
//
//	in 7x7x3 -> Conv 4 3x3 same -> AveragePooling2D 2x2/2 same (4x4x4, the
//	last row and column average 2 or 1 cells) -> Conv 4 1x1 -> GAP (16
//	cells) -> Dense 5
func meanPoolModel(t *testing.T) *nn.Model {
	t.Helper()
	x0 := nn.Input(7, 7, 3)
	c := nn.NewConv2D(4, 3, 3)
	c.Padding = "same"
	ap := nn.NewAveragePooling2D(2, 2)
	ap.Padding = "same"
	x := nn.Call(ap, nn.Call(c, x0))
	x = nn.Call(nn.NewGlobalAveragePooling2D(), nn.Call(nn.NewConv2D(4, 1, 1), x))
	m, err := nn.NewModel([]*nn.Node{x0}, []*nn.Node{nn.Call(nn.NewDense(5), x)})
	if err != nil {
		t.Fatal(err)
	}
	m.InitWeights(5)
	return m
}

// TestExportMeanOfCodes checks that the QDQ export's AveragePool and
// GlobalAveragePool compute the integer engine's codes exactly (the mean
// of the codes rounded half to even; meanOfCodes), ties included, with
// 8-bit and 4-bit activations, op by op in the test evaluator, and that
// the same graph with uint8 activations computes the same real values.
func TestExportMeanOfCodes(t *testing.T) {
	nb, err := quantize.ParseScheme("w4a4", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []quantize.Option
	}{{"int8", nil}, {"w4a4", []quantize.Option{quantize.WithScheme(nb)}}} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := quantize.Model(meanPoolModel(t), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(21, 22))
			if err := quantize.Calibrate(context.Background(), q, randomImages(r, 16, []int{7, 7, 3}), 16); err != nil {
				t.Fatal(err)
			}
			im, err := convert.Convert(q)
			if err != nil {
				t.Fatal(err)
			}
			mp, err := ExportInteger(im)
			if err != nil {
				t.Fatal(err)
			}
			it, err := lite.NewInterpreter(im)
			if err != nil {
				t.Fatal(err)
			}
			it.KeepTensors() // tensors compared op by op
			x := randomImages(r, 64, []int{7, 7, 3})
			if err := it.SetInput(0, x); err != nil {
				t.Fatal(err)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			a, w := qdqLocal(t, im, it, mp, x)
			t.Logf("op by op: %s; most differences: %s", a, w)
			pools, ties := 0, 0
			for _, op := range im.Ops {
				if op.Type != lite.OpAveragePool && op.Type != lite.OpGlobalAveragePool {
					continue
				}
				pools++
				name := im.Tensors[op.Output].Name
				if d, ok := w.diffs[name]; !ok || d != 0 {
					t.Errorf("%s (%s): %d codes differ from goqat's, want none (compared: %v)", name, op.Type, d, ok)
				}
				if op.Type == lite.OpGlobalAveragePool {
					ties += gapTies(it.TensorInt8(op.Inputs[0], nil).Data, im.Tensors[op.Inputs[0]].Shape.Size(), im.Tensors[op.Inputs[0]].Shape[2])
				}
			}
			if pools != 2 || ties == 0 {
				t.Errorf("%d mean pools with %d exact ties in the global one: the test checks nothing", pools, ties)
			}
			t.Logf("%d of the GlobalAveragePool's means are exact ties", ties)

			u8, err := ExportInteger(im, Uint8Activations())
			if err != nil {
				t.Fatal(err)
			}
			got, err := evalModel(u8, x.Shape, x.Data)
			if err != nil {
				t.Fatal(err)
			}
			want, err := evalModel(mp, x.Shape, x.Data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.v {
				if got.v[i] != want.v[i] {
					t.Fatalf("uint8 activations: output %d is %v, int8 activations give %v", i, got.v[i], want.v[i])
				}
			}
			runChecker(t, map[string]*onnxpb.ModelProto{"mean-int8": mp, "mean-uint8": u8})
		})
	}
}

// gapTies counts the global average pool means of codes (N, size/c
// pixels, c channels) that lie exactly halfway between two integers.
func gapTies(codes []int8, size, c int) int {
	hw, ties := size/c, 0
	for b := 0; b < len(codes)/size; b++ {
		for ch := 0; ch < c; ch++ {
			s := 0
			for p := 0; p < hw; p++ {
				s += int(codes[b*size+p*c+ch])
			}
			if m := ((s % hw) + hw) % hw; 2*m == hw {
				ties++
			}
		}
	}
	return ties
}
