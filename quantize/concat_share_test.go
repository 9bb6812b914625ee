package quantize_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/goqat/goqat/convert"
	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/nn/optim"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// concatModel is in -> {Conv+BN+ReLU, Conv with bias} -> Concatenate ->
// Conv+BN+ReLU -> GlobalAveragePooling2D -> Dense.
func concatModel(t *testing.T) *nn.Model {
	t.Helper()
	in := nn.Input(8, 8, 2)
	a := nn.NewConv2D(4, 3, 3)
	a.Padding, a.UseBias = "same", false
	x := nn.Call(a, in)
	x = nn.Call(nn.NewBatchNormalization(), x)
	x = nn.Call(nn.NewReLU(), x)
	y := nn.Call(nn.NewConv2D(3, 1, 1), in)
	z := nn.Call(nn.NewConcatenate(), x, y)
	c := nn.NewConv2D(4, 3, 3)
	c.UseBias = false
	z = nn.Call(c, z)
	z = nn.Call(nn.NewBatchNormalization(), z)
	z = nn.Call(nn.NewReLU(), z)
	z = nn.Call(nn.NewGlobalAveragePooling2D(), z)
	z = nn.Call(nn.NewDense(3), z)
	m, err := nn.NewModel([]*nn.Node{in}, []*nn.Node{z})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// outputQuantizer is what FoldedConvBN and QuantizeWrapper share.
type outputQuantizer interface{ OutputQuant() quantize.Quantizer }

// TestConcatInputsShareRange checks docs/DESIGN.md (QAT): "after Concat
// only": the Concatenate's producers have no range of their own but report
// the Concatenate's quantizer (also after save/load), and the integer model
// reproduces the QAT model exactly.
func TestConcatInputsShareRange(t *testing.T) {
	m := concatModel(t)
	q, err := quantize.Model(m)
	if err != nil {
		t.Fatal(err)
	}
	check := func(q *nn.Model, when string) {
		var concatQ quantize.Quantizer
		var producers []outputQuantizer
		for _, l := range q.Layers() {
			if w, ok := l.(*quantize.QuantizeWrapper); ok {
				if _, ok := w.Layer.(*nn.Concatenate); ok {
					concatQ = w.OutputQuant()
					for _, in := range q.Inbound(l.Name()) {
						producers = append(producers, q.Layer(in).(outputQuantizer))
					}
				}
			}
		}
		if concatQ == nil || len(producers) != 2 {
			t.Fatalf("%s: concat quantizer %v, %d producers", when, concatQ, len(producers))
		}
		for i, p := range producers {
			if p.OutputQuant() != concatQ {
				t.Errorf("%s: producer %d does not share the Concatenate's quantizer", when, i)
			}
			for _, prm := range p.(nn.Layer).Params() {
				if prm.Name == "output_quant_min" || prm.Name == "output_quant_max" {
					t.Errorf("%s: producer %d has its own output range %q", when, i, prm.Name)
				}
			}
		}
	}
	check(q, "after Model")

	r := rand.New(rand.NewPCG(1, 2))
	x, y := tensor.New(256, 8, 8, 2), tensor.New(256)
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(3))
	}
	ctx := context.Background()
	if err := q.Compile(nn.CompileOptions{Loss: nn.SparseCategoricalCrossentropy{FromLogits: true}, Optimizer: optim.NewAdam(1e-3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Fit(ctx, x, y, nn.FitOptions{BatchSize: 32, Epochs: 2, Seed: 1, Verbose: nn.VerboseSilent}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "qat.safetensors")
	if err := nn.Save(path, q); err != nil {
		t.Fatal(err)
	}
	q2, err := nn.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	check(q2, "after Load")

	im, err := convert.Convert(q2)
	if err != nil {
		t.Fatal(err)
	}
	it, err := lite.NewInterpreter(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.SetInput(0, x); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	got := it.Output(0).Data
	want, err := q2.Predict(ctx, x, 64)
	if err != nil {
		t.Fatal(err)
	}
	diff := 0
	for i := range got {
		if got[i] != want.Data[i] {
			diff++
		}
	}
	if diff != 0 {
		t.Errorf("integer model differs from the QAT model on %d of %d logits", diff, len(got))
	}
}
